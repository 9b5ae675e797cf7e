"""EventEnvelope (seed 002): checking what a client emits, and events as they go on the wire."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from vmcore.application.bus_service.errors import SOURCE_REFUSED, RpcError, bad_params
from vmcore.domain.errors import InvalidValue
from vmcore.domain.trn import Trn
from vmcore_event_store.bus_log import NewEvent, StoredEvent

_TOPIC = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,254}$")
_FIELDS = {"topic", "payload", "timestamp", "metadata", "source_trn", "target_trn",
           "correlation_id"}
RESERVED_METADATA = "vmcore"
"""The metadata key the service writes on events rules derive (rule id, depth, trigger)."""
MAX_TIMESTAMP = 2**53


def check_topic(topic: Any, *, pattern: bool = False, field: str = "topic") -> str:
    """A topic (``vm.started``), or with ``pattern`` also ``*`` and ``prefix.*``."""
    if isinstance(topic, str):
        if pattern and (topic == "*" or (topic.endswith(".*") and _TOPIC.match(topic[:-2]))):
            return topic
        if _TOPIC.match(topic) and not topic.endswith("."):
            return topic
    shape = "a topic, '*' or 'prefix.*'" if pattern else "a topic"
    raise bad_params(f"{field} must be {shape}: letters, digits and '_.:/-', at most 255,"
                     f" got {_short(topic)}")


def check_trn(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 512:
        raise bad_params(f"{field} must be a TRN string or null")
    try:
        Trn.parse(value)
    except InvalidValue as error:
        raise bad_params(f"{field}: {error}") from None
    return value


def check_text(value: Any, field: str, limit: int = 256) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise bad_params(f"{field} must be a non-empty string of at most {limit} characters")
    return value


def check_int(value: Any, field: str, default: int | None, low: int = 0,
              high: int = MAX_TIMESTAMP) -> int | None:
    if value is None:
        return default
    if type(value) is not int or not low <= value <= high:
        raise bad_params(f"{field} must be an integer from {low} to {high}")
    return value


def parse_envelope(params: Any, *, allowed_sources: tuple[str, ...],
                   now_ms: Callable[[], int]) -> NewEvent:
    """The event a client asks to emit, or :class:`RpcError` naming the bad field."""
    if not isinstance(params, dict):
        raise bad_params("params must be an EventEnvelope object")
    unknown = sorted(set(params) - _FIELDS)
    if unknown:
        raise bad_params(f"unknown envelope field(s): {', '.join(map(str, unknown))[:200]}")
    if "payload" not in params:
        raise bad_params("payload is required (any JSON value)")
    metadata = params.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise bad_params("metadata must be an object or null")
        if RESERVED_METADATA in metadata:
            raise bad_params(f"metadata key {RESERVED_METADATA!r} is reserved for the service")
    source = check_trn(params.get("source_trn"), "source_trn")
    if allowed_sources and (source is None or not source.startswith(allowed_sources)):
        raise RpcError(SOURCE_REFUSED, "Source refused",
                       f"source_trn {source!r} is not under {', '.join(allowed_sources)}")
    timestamp = check_int(params.get("timestamp"), "timestamp", None)
    return NewEvent(
        topic=check_topic(params.get("topic")),
        payload=orjson.dumps(params["payload"]).decode(),
        timestamp=now_ms() if timestamp is None else timestamp,
        metadata=None if metadata is None else orjson.dumps(metadata).decode(),
        source_trn=source,
        target_trn=check_trn(params.get("target_trn"), "target_trn"),
        correlation_id=check_text(params.get("correlation_id"), "correlation_id"),
    )


def wire(event: StoredEvent) -> dict[str, Any]:
    """The event as a JSON-ready object (payload and metadata kept as JSON fragments)."""
    return {"event_id": event.event_id, "topic": event.topic,
            "payload": orjson.Fragment(event.payload), "timestamp": event.timestamp,
            "metadata": None if event.metadata is None else orjson.Fragment(event.metadata),
            "source_trn": event.source_trn, "target_trn": event.target_trn,
            "correlation_id": event.correlation_id}


def decoded(event: StoredEvent) -> dict[str, Any]:
    """The event as plain Python values (for JSONPath and tools)."""
    return {"event_id": event.event_id, "topic": event.topic,
            "payload": orjson.loads(event.payload), "timestamp": event.timestamp,
            "metadata": None if event.metadata is None else orjson.loads(event.metadata),
            "source_trn": event.source_trn, "target_trn": event.target_trn,
            "correlation_id": event.correlation_id}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
