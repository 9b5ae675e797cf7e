"""How the CLI shows VMs and events: plain-text tables for people, JSON for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any

import orjson

from vmcore.application.fleet_view import VmSummary
from vmcore.domain.config import format_memory_size

if TYPE_CHECKING:
    from vmcore.domain.aggregate import VirtualMachine
    from vmcore.domain.events import VmEvent

_EVENT_BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "meta",
                      "originator_topic"}


def vm_summary(vm: VirtualMachine | VmSummary) -> dict[str, Any]:
    config = vm if isinstance(vm, VmSummary) else vm.config
    return {
        "id": str(vm.id),
        "name": vm.name,
        "state": vm.state.value,
        "reason": vm.reason,
        "version": vm.version,
        "vcpus": config.vcpus,
        "memory": format_memory_size(config.memory),
        "arch": config.arch.value,
    }


def vm_detail(vm: VirtualMachine) -> dict[str, Any]:
    config = vm.config
    return vm_summary(vm) | {
        "flags": sorted(config.flags),
        "max_vcpus": config.max_vcpus,
        "max_memory": None if config.max_memory is None else format_memory_size(config.max_memory),
        "created_by": vm.created_by,
        "tags": vm.tags,
        "created_on": vm.created_on.isoformat(),
        "modified_on": vm.modified_on.isoformat(),
        "exit_code": vm.exit_code,
        "last_error": vm.last_error,
        "migration_destination": vm.migration_destination,
        "memory_regions": [
            {"id": r.region_id, "base": hex(r.base), "size": format_memory_size(r.size),
             "type": r.memory_type, "mapped": r.mapped} for r in vm.memory_regions],
        "devices": [{"id": d.device_id, "kind": d.kind} for d in vm.devices],
        "snapshots": vm.snapshots,
    }


def event_payload(event: VmEvent) -> dict[str, Any]:
    """The event's own fields (what happened), without the common envelope."""
    assert is_dataclass(event)
    return {f.name: getattr(event, f.name) for f in fields(event)
            if f.name not in _EVENT_BASE_FIELDS}


def event_record(event: VmEvent) -> dict[str, Any]:
    return {
        "vm_id": str(event.originator_id),
        "version": event.originator_version,
        "timestamp": event.timestamp.isoformat(),
        "topic": event.bus_topic,
        "payload": event_payload(event),
        "meta": dict(event.meta),
    }


_SIZES = frozenset({"size", "memory", "max_memory"})


def describe_payload(payload: dict[str, Any]) -> str:
    """An event's payload for people: ``key=value`` pairs, sizes with units, lists and
    mappings spelled out (no Python reprs), empty values left out."""
    parts: list[str] = []
    for key, value in payload.items():
        if value in (None, [], {}, (), False, ""):
            continue
        if isinstance(value, dict) and key != "config":  # properties: their own pairs
            parts.extend(f"{k}={_describe(str(k), v)}" for k, v in value.items())
        else:
            parts.append(f"{key}={_describe(key, value)}")
    return " ".join(parts)


def _describe(key: str, value: Any) -> str:
    if key == "config" and isinstance(value, dict):
        return (f"{value['vcpus']} vCPU, {format_memory_size(value['memory'])},"
                f" {value['arch']}")
    if key in _SIZES and isinstance(value, int) and not isinstance(value, bool):
        return format_memory_size(value) if value > 0 else str(value)
    if isinstance(value, dict):
        return ",".join(f"{k}:{_describe(str(k), v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(_describe(key, item) for item in value)
    if value is True:
        return "yes"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A left-aligned text table with a header row."""
    cells = [[str(column).upper() for column in columns]]
    cells += [["-" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                     .rstrip() for line in cells)


def key_values(record: dict[str, Any]) -> str:
    width = max(len(key) for key in record)
    lines = []
    for key, value in record.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{key.ljust(width)}  ")
            lines.extend(f"  - {describe_payload(item)}" for item in value)
        else:
            lines.append(f"{key.ljust(width)}  {'-' if value in (None, []) else value}")
    return "\n".join(lines)


def to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
