"""Seed 003's EventBus is not tied to the loop that happened to be current at subscribe."""

from __future__ import annotations

import asyncio
from typing import Any

from vmcore.bus import EventBus
from vmcore.domain.runtime import RuntimeEvent


def test_subscribe_in_one_asyncio_run_then_publish_and_stop_in_others() -> None:
    bus = EventBus()
    seen: list[Any] = []

    async def handler(event: Any) -> None:
        seen.append(event.data["n"])

    asyncio.run(bus.subscribe("t", handler))

    async def publish(n: int) -> None:
        await bus.publish(RuntimeEvent("t", data={"n": n}))
        await bus.join()

    asyncio.run(publish(1))
    asyncio.run(publish(2))  # a new loop: the workers move to it
    asyncio.run(bus.stop())  # did raise: the workers' loop was closed
    assert [1, 2] == seen


def test_events_left_on_a_closed_loop_are_dead_lettered_not_lost() -> None:
    bus = EventBus()

    async def never(event: Any) -> None:
        await asyncio.Event().wait()

    async def publish_and_leave() -> None:
        await bus.subscribe("t", never)
        for n in range(3):
            await bus.publish(RuntimeEvent("t", data={"n": n}))

    asyncio.run(publish_and_leave())
    asyncio.run(bus.stop())
    assert 2 <= len(bus.bus.dead_letters)  # the one being handled died with its loop
