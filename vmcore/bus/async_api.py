"""Seed 003's asyncio ``EventBus`` API, backed by :class:`UnifiedEventBus` in async mode.

Every handler (plain or ``async def``) runs on the bus's asyncio workers; ``await publish``
waits while the bounded queue is full, ``publish_sync`` raises :class:`QueueFull` instead
when called on the loop (from another thread it waits). Events published with a higher
:class:`Priority` overtake queued events of lower priority; equal priorities keep order.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from vmcore.bus.clock import Clock
from vmcore.bus.core import UnifiedEventBus
from vmcore.bus.filters import EventFilter
from vmcore.bus.metrics import BusStats
from vmcore.bus.migration import Upcaster
from vmcore.bus.retry import RetryPolicy
from vmcore.bus.subscription import Handler, Mode
from vmcore.bus.system_events import topic_for


class Priority(enum.IntEnum):
    """Publishing priority, as in seed 003: a lower value is more urgent."""

    HIGH = 1
    MEDIUM = 2
    LOW = 3


class EventBus:
    """``EventBus(max_queue_size=1000, enable_metrics=True)`` with awaitable methods."""

    def __init__(
        self,
        max_queue_size: int = 1000,
        enable_metrics: bool = True,
        *,
        workers: int = 4,
        clock: Clock | None = None,
        upcaster: Upcaster | None = None,
    ) -> None:
        self.enable_metrics = enable_metrics
        self.bus = UnifiedEventBus(
            max_queue_size=max_queue_size,
            workers=workers,
            priority_queues=True,
            clock=clock,
            upcaster=upcaster,
        )

    def _ensure_started(self) -> None:
        """Start the workers on the running loop when they are not running, or when the
        loop they ran on has closed (each ``asyncio.run`` has a loop of its own)."""
        loop = self.bus.loop
        if loop is None or loop.is_closed():
            self.bus.start()

    async def subscribe(
        self,
        event_type: enum.Enum | str,
        handler: Handler,
        *,
        priority: int = 0,
        filters: Iterable[EventFilter] | EventFilter | None = None,
        retry: RetryPolicy | None = None,
        name: str | None = None,
    ) -> int:
        """Subscribe ``handler`` to an event type (``EventType.ANY`` for all); returns an id.

        Subscribing starts nothing: the workers start with the first ``publish`` (or
        ``async with``) on the loop that runs it, so ``asyncio.run(bus.subscribe(...))``
        leaves no worker tied to a loop that is about to close."""
        return self.bus.subscribe(
            topic_for(event_type),
            handler,
            priority=priority,
            filters=filters,
            retry=retry,
            mode=Mode.ASYNC,
            name=name,
        )

    async def unsubscribe(self, subscription_id: int) -> None:
        self.bus.unsubscribe(subscription_id)

    async def unsubscribe_handler(self, handler: Handler) -> int:
        return self.bus.unsubscribe_handler(handler)

    async def publish(self, event: Any, priority: Priority = Priority.MEDIUM) -> None:
        """Queue ``event`` for its subscribers, waiting while a queue is full."""
        self._ensure_started()
        await self.bus.publish_async(event, priority=-int(priority))

    def publish_sync(self, event: Any, priority: Priority = Priority.MEDIUM) -> None:
        """Queue ``event`` from synchronous code (``QueueFull`` if full on the loop thread)."""
        self._ensure_started()
        self.bus.publish(event, priority=-int(priority))

    async def join(self) -> None:
        """Wait until every published event has been handled."""
        await self.bus.join()

    async def stop(self) -> None:
        """Handle everything already published, then stop the workers."""
        await self.bus.stop_async()

    def get_metrics(self) -> BusStats | None:
        """Delivery counters and latency percentiles (``None`` when metrics are disabled)."""
        return self.bus.stats() if self.enable_metrics else None

    async def __aenter__(self) -> Self:
        self._ensure_started()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
