"""``event_buses.json`` (seed 002): a JSON list of bus instances.

Every mistake is one line naming the file, the bus and the field.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import orjson
from attrs import frozen

from vmcore.application.errors import ConfigurationError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_LOOPBACK_NAMES = {"localhost"}


@frozen
class BusConfig:
    """One bus instance. Besides the seed's fields: ``queue_size`` (emit queue),
    ``subscriber_buffer`` (events buffered per subscription before it is dropped),
    ``max_events`` (the in-memory log's bound), ``max_rule_depth``, ``emit_wait_ms`` (how
    long an emitter waits on a full queue), ``max_connections`` (more are refused),
    ``tool_timeout_ms``, ``vm_store`` (a vmcore store for the built-in VM tools and the VM
    bridge), ``vm_bridge`` and ``allow_remote`` (listen beyond loopback)."""

    id: str
    host: str
    port: int
    persist: bool = False
    storage_path: str | None = None
    enable_rules: bool = False
    allowed_sources: tuple[str, ...] = ()
    max_concurrency: int = 8
    queue_size: int = 1024
    subscriber_buffer: int = 1024
    max_events: int = 100_000
    max_rule_depth: int = 8
    emit_wait_ms: int = 5000
    max_connections: int = 1024
    tool_timeout_ms: int = 30_000
    vm_store: str | None = None
    vm_bridge: bool = False
    allow_remote: bool = False

    @property
    def listen(self) -> str:
        return f"{self.host}:{self.port}"


_INTS = {"max_concurrency": (1, 1024), "queue_size": (1, 1_000_000),
         "subscriber_buffer": (1, 1_000_000), "max_events": (1, 100_000_000),
         "max_rule_depth": (1, 100), "emit_wait_ms": (0, 600_000),
         "max_connections": (1, 100_000), "tool_timeout_ms": (1, 3_600_000)}
_BOOLS = ("persist", "enable_rules", "vm_bridge", "allow_remote")
_STRINGS = ("storage_path", "vm_store")
_KNOWN = {"id", "listen", "allowed_sources", *_INTS, *_BOOLS, *_STRINGS}


def load_config(path: str | Path) -> list[BusConfig]:
    """Read and check ``path``; raises :class:`ConfigurationError` (one line)."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read: {error.strerror}") from None
    except orjson.JSONDecodeError as error:
        raise ConfigurationError(f"{path}: not JSON: {error}") from None
    return parse_config(data, str(path))


def parse_config(data: Any, origin: str = "config") -> list[BusConfig]:
    if not isinstance(data, list) or not data:
        raise ConfigurationError(f"{origin}: expected a non-empty JSON list of bus instances")
    buses = [_parse_bus(entry, index, origin) for index, entry in enumerate(data)]
    seen: set[tuple[str, str]] = set()
    for bus in buses:
        for what, key in (("id", bus.id), ("listen", bus.listen)):
            if (what, key) in seen and not (what == "listen" and bus.port == 0):
                raise ConfigurationError(f"{origin}: bus {bus.id!r}: field {what!r}:"
                                         f" {key!r} is used by another bus")
            seen.add((what, key))
    return buses


def _parse_bus(entry: Any, index: int, origin: str) -> BusConfig:
    name = f"#{index + 1}"
    if isinstance(entry, dict) and isinstance(entry.get("id"), str):
        name = repr(entry["id"])

    def fail(field: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{origin}: bus {name}: field {field!r}: {problem}")

    if not isinstance(entry, dict):
        raise ConfigurationError(f"{origin}: bus {name}: expected an object")
    for field in entry:
        if field not in _KNOWN:
            raise fail(field, f"unknown field (known: {', '.join(sorted(_KNOWN))})")
    bus_id = entry.get("id")
    if not isinstance(bus_id, str) or not _ID.match(bus_id):
        raise fail("id", "required: letters, digits, '.', '_', '@', '-' (at most 64)")
    values: dict[str, Any] = {"id": bus_id}
    host, port = _listen(entry.get("listen"), fail)
    values.update(host=host, port=port)
    for field in _BOOLS:
        if field in entry:
            if not isinstance(entry[field], bool):
                raise fail(field, "expected true or false")
            values[field] = entry[field]
    for field in _STRINGS:
        if field in entry and entry[field] is not None:
            if not isinstance(entry[field], str) or not entry[field]:
                raise fail(field, "expected a non-empty string")
            values[field] = entry[field]
    for field, (low, high) in _INTS.items():
        if field in entry:
            value = entry[field]
            if type(value) is not int or not low <= value <= high:
                raise fail(field, f"expected an integer from {low} to {high}")
            values[field] = value
    sources = entry.get("allowed_sources")
    if sources is not None:
        if not isinstance(sources, list) or not all(
                isinstance(s, str) and s.startswith("trn:") for s in sources):
            raise fail("allowed_sources", "expected a list of TRN prefixes like 'trn:user:'")
        values["allowed_sources"] = tuple(sources)
    if values.get("persist") and "storage_path" not in values:
        raise fail("storage_path", "required when persist is true (a file or a PostgreSQL DSN)")
    if values.get("vm_bridge") and "vm_store" not in values:
        raise fail("vm_store", "required when vm_bridge is true")
    if not values.get("allow_remote") and not _is_loopback(host):
        raise fail("listen", f"{host} is not a loopback address; set \"allow_remote\": true"
                             " to listen beyond this machine")
    return BusConfig(**values)


def _listen(value: Any, fail: Any) -> tuple[str, int]:
    if not isinstance(value, str):
        raise fail("listen", "required: HOST:PORT, e.g. \"127.0.0.1:4010\"")
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise fail("listen", f"expected HOST:PORT (port 0-65535), got {value!r}")
    return host, int(port_text)


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
