"""Event version migration before dispatch: handlers always see the current event class.

eventsourcing upcasts stored events when it reads them; events published in-process by an
older producer (an old client library, a replayed log) are brought up to date here, with a
chain of one-step functions keyed by the old class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[Any], Any]
"""Any ``event -> event`` callable; the bus applies it to every published event."""


class EventMigrator:
    """Applies registered one-step migrations until the event's class has none left."""

    def __init__(self, max_steps: int = 32) -> None:
        self._steps: dict[type, Callable[[Any], Any]] = {}
        self._max_steps = max_steps

    def register(self, old: type, step: Callable[[Any], Any]) -> None:
        """``step`` turns an instance of ``old`` into the next version."""
        if old in self._steps:
            raise ValueError(f"a migration from {old.__qualname__} is already registered")
        self._steps[old] = step

    def __call__(self, event: Any) -> Any:
        steps = self._steps
        if not steps:
            return event
        for _ in range(self._max_steps):
            step = steps.get(type(event))
            if step is None:
                return event
            event = step(event)
        raise RuntimeError(f"migration of {type(event).__qualname__} does not terminate")
