"""What a durable subscription is doing, for operators: its state and its last trouble."""

from __future__ import annotations

import enum

from attrs import frozen


class DurableState(enum.Enum):
    STARTING = "starting"
    """Reading its recorded position and opening the log."""
    RUNNING = "running"
    """Following the log."""
    RETRYING = "retrying"
    """The store was unreachable (or failed a read): waiting to re-subscribe from its
    recorded position, with growing, jittered pauses, for as long as it takes."""
    STOPPED = "stopped"
    """Stopped by its owner; its position is recorded."""
    FAILED = "failed"
    """Stopped by an error that retrying cannot cure (see ``error``)."""


@frozen
class DurableStatus:
    """A snapshot of one durable subscription (``DurableSubscription.status()``)."""

    name: str
    state: DurableState
    position: int
    """The last notification id dealt with (handled, filtered out or dead-lettered)."""
    processed: int
    """Events handed to the handler successfully."""
    outages: int
    """How many times it lost the store and had to re-subscribe."""
    last_error: str | None
    """The error that caused the latest retry (or the failure), as ``Type: message``."""
