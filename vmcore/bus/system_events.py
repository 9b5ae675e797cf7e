"""Seed 003's event vocabulary: :class:`EventType` and the generic :class:`SystemEvent`.

These are the bus's non-VM events (agents, sessions, checkpoints, middleware, custom
enums). Their bus topic is the enum's value (``"agent_started"``); :data:`EventType.ANY`
subscribes to every topic, VM events included.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from attrs import Factory, define

from vmcore.bus.topics import ANY


class EventType(enum.Enum):
    """The system event types of seed 003 (custom ``Enum`` classes work the same way)."""

    AGENT_STARTED = "agent_started"
    AGENT_COMPLETED = "agent_completed"
    ERROR_OCCURRED = "error_occurred"
    SESSION_CREATED = "session_created"
    SESSION_EXPIRED = "session_expired"
    CHECKPOINT_SAVED = "checkpoint_saved"
    CHECKPOINT_RESTORED = "checkpoint_restored"
    MIDDLEWARE_EXECUTED = "middleware_executed"
    MIDDLEWARE_FAILED = "middleware_failed"
    CUSTOM = "custom"
    ANY = ANY


def topic_for(event_type: enum.Enum | str) -> str:
    """The bus topic (or pattern) of an event type: an enum's value, or the string itself."""
    if isinstance(event_type, enum.Enum):
        return str(event_type.value)
    return event_type


def _now() -> datetime:
    return datetime.now()


@define
class SystemEvent:
    """A generic, mutable (``metadata`` may be enriched by handlers) non-VM event."""

    event_type: enum.Enum | str
    agent_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    timestamp: datetime = Factory(_now)
    metadata: dict[str, Any] = Factory(dict)
    execution_time_ms: float | None = None
    error_message: str | None = None
    error_type: str | None = None
    vm_id: UUID | None = None

    @property
    def bus_topic(self) -> str:
        return topic_for(self.event_type)
