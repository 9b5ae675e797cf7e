from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest

from vmcore.bus import EventBus, EventType, Priority, QueueFull, SystemEvent
from vmcore.domain.runtime import RuntimeEvent


class Custom(enum.Enum):
    USER_LOGIN = "user_login"


def test_system_events_carry_their_type_as_bus_topic() -> None:
    assert ("agent_started", "user_login", "custom.x") == (
        SystemEvent(EventType.AGENT_STARTED).bus_topic,
        SystemEvent(Custom.USER_LOGIN).bus_topic,
        SystemEvent("custom.x").bus_topic,
    )


def test_subscribe_publish_unsubscribe_as_in_seed_003() -> None:
    async def main() -> tuple[list[str], list[str], int]:
        bus = EventBus(max_queue_size=10, enable_metrics=True)
        typed: list[str] = []
        everything: list[str] = []

        async def on_started(event: SystemEvent) -> None:
            typed.append(str(event.agent_id))

        async def log_all(event: Any) -> None:
            everything.append(event.bus_topic)

        sid = await bus.subscribe(EventType.AGENT_STARTED, on_started)
        await bus.subscribe(EventType.ANY, log_all)
        await bus.publish(SystemEvent(EventType.AGENT_STARTED, agent_id="a"))
        bus.publish_sync(SystemEvent(Custom.USER_LOGIN, user_id="u"))
        await bus.publish(RuntimeEvent("vm.started"))
        await bus.join()
        await bus.unsubscribe(sid)
        await bus.publish(SystemEvent(EventType.AGENT_STARTED, agent_id="b"))
        await bus.join()
        removed = await bus.unsubscribe_handler(log_all)
        await bus.stop()
        return typed, everything, removed

    assert (["a"], ["agent_started", "user_login", "vm.started", "agent_started"], 1) == (
        asyncio.run(main())
    )


def test_higher_priority_events_overtake_queued_ones_equal_priorities_keep_order() -> None:
    async def main() -> list[str]:
        order: list[str] = []
        async with EventBus() as bus:

            async def record(event: SystemEvent) -> None:
                order.append(event.metadata["n"])

            await bus.subscribe(EventType.CUSTOM, record)
            plan = [("l1", Priority.LOW), ("m1", Priority.MEDIUM), ("h1", Priority.HIGH)]
            plan += [("l2", Priority.LOW), ("h2", Priority.HIGH), ("m2", Priority.MEDIUM)]
            for n, priority in plan:
                bus.publish_sync(SystemEvent(EventType.CUSTOM, metadata={"n": n}), priority)
        return order

    assert ["h1", "h2", "m1", "m2", "l1", "l2"] == asyncio.run(main())


def test_publish_sync_on_a_full_loop_queue_raises_queue_full() -> None:
    async def main() -> None:
        async with EventBus(max_queue_size=1, workers=1) as bus:
            await bus.subscribe(EventType.CUSTOM, lambda e: None)
            bus.publish_sync(SystemEvent(EventType.CUSTOM))
            with pytest.raises(QueueFull):
                bus.publish_sync(SystemEvent(EventType.CUSTOM))

    asyncio.run(main())


def test_metrics_can_be_disabled() -> None:
    assert EventBus(enable_metrics=False).get_metrics() is None
