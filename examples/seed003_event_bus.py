"""Seed 003's event-system walkthrough, run against vmcore's bus.

Run: ``python examples/seed003_event_bus.py``. Every section of seed 003 ("EventBus basics",
"event handlers", "advanced patterns", "custom events", "priorities") appears below in order,
with vmcore's ``EventBus``, ``EventType`` and ``SystemEvent``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from vmcore.bus import EventBus, EventType, Priority, SystemEvent

logger = logging.getLogger("seed003")
lines: list[str] = []


def say(text: str) -> None:
    lines.append(text)
    print(text)


class CustomEventType(enum.Enum):
    USER_LOGIN = "user_login"
    PAYMENT_SUCCESS = "payment_success"


async def on_agent_started(event: SystemEvent) -> None:
    say(f"Agent {event.agent_id} started")


async def simple_handler(event: SystemEvent) -> None:
    if event.event_type == EventType.AGENT_COMPLETED:
        say(f"Agent completed in {event.execution_time_ms}ms")


class MetricsCollector:
    """Collects execution times per agent (seed 003's metrics handler)."""

    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = defaultdict(list)

    async def collect_metrics(self, event: SystemEvent) -> None:
        if event.event_type == EventType.AGENT_COMPLETED and event.execution_time_ms is not None:
            self.metrics[f"{event.agent_id}_duration"].append(event.execution_time_ms)

    def get_stats(self) -> dict[str, dict[str, float]]:
        return {
            key: {"avg": sum(v) / len(v), "min": min(v), "max": max(v), "count": len(v)}
            for key, v in self.metrics.items()
        }


class FilteredHandler:
    """Only passes events that satisfy a condition (seed 003's filtered handler)."""

    def __init__(
        self,
        condition: Callable[[SystemEvent], bool],
        handler: Callable[[SystemEvent], Awaitable[None]],
    ) -> None:
        self.condition = condition
        self.handler = handler

    async def __call__(self, event: SystemEvent) -> None:
        if self.condition(event):
            await self.handler(event)


async def premium_user_handler(event: SystemEvent) -> None:
    say(f"Premium user event: {event.user_id}")


class EventRouter:
    """Routes events to handlers registered with a decorator (seed 003's router)."""

    def __init__(self) -> None:
        self.routes: dict[Any, list[Callable[[SystemEvent], Awaitable[None]]]] = {}

    def route(
        self, event_type: Any
    ) -> Callable[[Callable[[SystemEvent], Awaitable[None]]], Callable[..., Awaitable[None]]]:
        def decorator(
            handler: Callable[[SystemEvent], Awaitable[None]],
        ) -> Callable[[SystemEvent], Awaitable[None]]:
            self.routes.setdefault(event_type, []).append(handler)
            return handler

        return decorator

    async def dispatch(self, event: SystemEvent) -> None:
        for handler in self.routes.get(event.event_type, []):
            await handler(event)


async def main() -> list[str]:
    event_bus = EventBus(max_queue_size=1000, enable_metrics=True)

    # Subscribe to one event type, to everything, and through a filter and a router.
    await event_bus.subscribe(EventType.AGENT_STARTED, on_agent_started)
    await event_bus.subscribe(EventType.AGENT_COMPLETED, simple_handler)
    collector = MetricsCollector()
    await event_bus.subscribe(EventType.AGENT_COMPLETED, collector.collect_metrics)
    all_events: list[str] = []

    async def log_all_events(event: SystemEvent) -> None:
        all_events.append(event.bus_topic)

    await event_bus.subscribe(EventType.ANY, log_all_events)
    premium = FilteredHandler(lambda e: e.metadata.get("tier") == "premium", premium_user_handler)
    await event_bus.subscribe(EventType.ANY, premium)
    router = EventRouter()

    @router.route(CustomEventType.USER_LOGIN)
    async def handle_login(event: SystemEvent) -> None:
        say(f"Login: {event.user_id} from {event.metadata['ip_address']}")

    await event_bus.subscribe(EventType.ANY, router.dispatch)

    # Publish: asynchronously, synchronously, and a custom event type.
    started = SystemEvent(
        event_type=EventType.AGENT_STARTED, agent_id="chatbot", timestamp=datetime.now()
    )
    await event_bus.publish(started)
    for ms in (1200, 800):
        event_bus.publish_sync(
            SystemEvent(
                event_type=EventType.AGENT_COMPLETED, agent_id="chatbot", execution_time_ms=ms
            )
        )
    await event_bus.publish(
        SystemEvent(
            event_type=CustomEventType.USER_LOGIN,
            agent_id="auth_agent",
            user_id="user_123",
            metadata={"ip_address": "192.168.1.1", "tier": "premium"},
        )
    )
    await event_bus.join()
    say(f"chatbot stats: {collector.get_stats()['chatbot_duration']}")

    # Unsubscribe one subscription, then every subscription of a handler.
    subscription_id = await event_bus.subscribe(EventType.SESSION_CREATED, on_agent_started)
    await event_bus.unsubscribe(subscription_id)
    removed = await event_bus.unsubscribe_handler(log_all_events)
    say(f"log_all_events saw {len(all_events)} events, removed {removed} subscription")

    # Priority publishing: urgent events overtake queued ones.
    order: list[str] = []

    async def record(event: SystemEvent) -> None:
        order.append(event.metadata["name"])

    await event_bus.subscribe(EventType.CUSTOM, record)
    # publish_sync queues without yielding to the loop, so the three events wait together
    # and the worker takes the most urgent first.
    for name, priority in (("low", Priority.LOW), ("medium", Priority.MEDIUM)):
        event_bus.publish_sync(SystemEvent(EventType.CUSTOM, metadata={"name": name}), priority)
    event_bus.publish_sync(SystemEvent(EventType.CUSTOM, metadata={"name": "high"}), Priority.HIGH)
    await event_bus.join()
    say(f"priority order: {order}")

    stats = event_bus.get_metrics()
    assert stats is not None
    say(f"delivered={stats.totals.delivered} failed={stats.totals.failed}")
    await event_bus.stop()
    return lines


if __name__ == "__main__":
    asyncio.run(main())
