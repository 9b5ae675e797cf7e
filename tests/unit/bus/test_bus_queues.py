"""The workers' bounded queues keep asyncio.Queue's contract (order, bound, join)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmcore.bus.queues import PriorityWorkQueue, WorkQueue


def _take_all(q: WorkQueue) -> list[object]:
    taken = []
    while q.items:
        taken.append(q.take())
        q.done()
    return taken


@given(items=st.lists(st.integers(), max_size=30))
def test_items_come_out_in_the_order_they_went_in(items: list[int]) -> None:
    async def main() -> list[object]:
        q = WorkQueue(0, asyncio.get_running_loop())  # 0: unbounded, as asyncio.Queue
        for item in items:
            q.put_nowait(item)
        return _take_all(q)

    assert items == asyncio.run(main())


@given(ranked=st.lists(st.tuples(st.integers(-3, 3), st.integers()), max_size=30))
def test_priority_queue_serves_lower_ranks_first_and_ties_in_order(
    ranked: list[tuple[int, int]],
) -> None:
    async def main() -> list[object]:
        q = PriorityWorkQueue(100, asyncio.get_running_loop())
        for rank, item in ranked:
            q.put_nowait((rank, item), rank)
        return _take_all(q)

    assert sorted(ranked, key=lambda pair: pair[0]) == asyncio.run(main())


def test_a_full_queue_refuses_put_nowait_and_makes_put_wait_for_a_take() -> None:
    async def main() -> tuple[bool, bool, list[object], int]:
        q = WorkQueue(2, asyncio.get_running_loop())
        q.put_nowait("a")
        q.put_nowait("b")
        with pytest.raises(asyncio.QueueFull):
            q.put_nowait("c")
        putter = asyncio.create_task(q.put("c"))
        for _ in range(3):
            await asyncio.sleep(0)
        waited = not putter.done()
        first = q.take()  # makes room: wakes the putter
        q.done()
        await putter
        return waited, q.full(), [first, *_take_all(q)], q.unfinished

    assert (True, True, ["a", "b", "c"], 0) == asyncio.run(main())


def test_a_cancelled_putter_passes_its_turn_to_the_next() -> None:
    async def main() -> list[object]:
        q = WorkQueue(1, asyncio.get_running_loop())
        q.put_nowait("a")
        first = asyncio.create_task(q.put("b"))
        second = asyncio.create_task(q.put("c"))
        await asyncio.sleep(0)
        q.take()  # wakes `first` ...
        q.done()
        first.cancel()  # ... which gives up before it runs: `second` must get the room
        await second
        return _take_all(q)

    assert ["c"] == asyncio.run(main())


def test_join_waits_until_every_item_is_marked_done_and_wait_until_one_arrives() -> None:
    async def main() -> tuple[bool, bool, bool, list[object]]:
        q = WorkQueue(4, asyncio.get_running_loop())
        await q.join()  # nothing put: returns at once
        consumer = asyncio.create_task(q.wait())
        await asyncio.sleep(0)
        idle = not consumer.done()
        q.put_nowait(1)
        q.put_nowait(2)
        await consumer
        joiner = asyncio.create_task(q.join())
        q.take()
        q.done()
        await asyncio.sleep(0)
        half = not joiner.done()
        rest = _take_all(q)
        await joiner
        return idle, half, joiner.done(), rest

    assert (True, True, True, [2]) == asyncio.run(main())
