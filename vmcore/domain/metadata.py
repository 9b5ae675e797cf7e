"""Who asked, on whose behalf, and as part of what: the metadata every VM event carries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import uuid4

from attrs import evolve, field, frozen

from vmcore.domain.trn import SYSTEM_ACTOR, Trn


def _to_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _new_correlation_id() -> str:
    return str(uuid4())


@frozen
class CommandContext:
    """The caller's side of an event's metadata.

    ``correlation_id`` groups every event caused by one request (a new one per request unless
    given); ``causation_id`` names the message or event that caused this command.
    """

    actor: Trn = SYSTEM_ACTOR
    correlation_id: str = field(factory=_new_correlation_id)
    causation_id: str | None = None
    source: Trn | None = None
    tags: tuple[str, ...] = field(default=(), converter=_to_tuple)

    def caused_by(self, causation_id: str) -> CommandContext:
        """The same request, one step further: keep the correlation, set the causation."""
        return evolve(self, causation_id=causation_id)

    def to_metadata(self, target: Trn) -> dict[str, Any]:
        """The primitive metadata stored on an event about ``target``."""
        return {
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "actor": str(self.actor),
            "source": None if self.source is None else str(self.source),
            "target": str(target),
            "tags": list(self.tags),
        }
