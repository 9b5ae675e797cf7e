"""The fan-out: bounded per-client queues, overflow cut-off, exact catch-up, closing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator

import pytest

from vmcore.application.control_plane import ControlPlane
from vmcore.application.event_log import LoggedEvent, read_log
from vmcore.composition import StoreSpec
from vmcore.domain import VmConfig
from vmcore.entrypoints.http.live import HEARTBEAT, Closing, Hub, Overflow, follow, frame_of


@pytest.fixture
def control_plane() -> Iterator[ControlPlane]:
    cp = ControlPlane(StoreSpec("memory").env())
    yield cp
    cp.close()


async def next_position(events: AsyncGenerator[object, None]) -> int:
    item = await anext(events)
    assert isinstance(item, LoggedEvent)
    return item.position


def stored(cp: ControlPlane) -> list[LoggedEvent]:
    return read_log(cp, 0).events


def test_a_client_past_its_backlog_gets_what_fitted_then_overflow(
        control_plane: ControlPlane) -> None:
    control_plane.start_vm(control_plane.create_vm("a", VmConfig()))
    created, started = stored(control_plane)

    async def scenario() -> list[object]:
        hub = Hub(backlog=2)
        events = follow(control_plane, hub, 0, lambda item: True, heartbeat=0.01)
        seen: list[object] = [await next_position(events), await next_position(events)]
        assert HEARTBEAT == await anext(events)  # now live
        for position in (100, 101, 102):
            hub.publish(frame_of(LoggedEvent(position, started.event)))
        seen += [await next_position(events), await next_position(events)]
        with pytest.raises(Overflow):
            await anext(events)
        assert 1 == hub.disconnected_slow
        assert set() == hub.subscribers
        return seen

    assert [created.position, started.position, 100, 101] == asyncio.run(scenario())


def test_live_items_the_store_already_gave_are_skipped_and_close_ends(
        control_plane: ControlPlane) -> None:
    control_plane.create_vm("a", VmConfig())
    (created,) = stored(control_plane)

    async def scenario() -> list[int]:
        hub = Hub(backlog=10)
        events = follow(control_plane, hub, 0, lambda item: True, heartbeat=0.01)
        positions = [await next_position(events)]
        assert HEARTBEAT == await anext(events)
        hub.publish(frame_of(created))  # the tailer catching up: already sent
        hub.publish(frame_of(LoggedEvent(created.position + 5, created.event)))
        positions.append(await next_position(events))
        hub.close()
        with pytest.raises(Closing):
            while True:
                await anext(events)
        return positions

    assert [created.position, created.position + 5] == asyncio.run(scenario())


def test_filters_apply_to_store_and_live_alike(control_plane: ControlPlane) -> None:
    vm_id = control_plane.create_vm("a", VmConfig())
    control_plane.start_vm(vm_id)

    async def scenario() -> list[str]:
        hub = Hub()
        events = follow(control_plane, hub, 0,
                        lambda item: item.event.bus_topic == "vm.started", heartbeat=0.01)
        first = await anext(events)
        assert isinstance(first, LoggedEvent)
        await events.aclose()
        assert set() == hub.subscribers
        return [first.event.bus_topic]

    assert ["vm.started"] == asyncio.run(scenario())
