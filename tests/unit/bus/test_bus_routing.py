from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.bus import ANY, UnifiedEventBus, UnknownSubscription, topic_matches
from vmcore.domain.runtime import RuntimeEvent

segments = st.text(alphabet="abcxyz_", min_size=1, max_size=4)
topics = st.lists(segments, min_size=1, max_size=3).map(".".join)


@settings(deadline=None)
@given(topic=topics)
def test_any_and_exact_patterns_match_the_topic(topic: str) -> None:
    assert (True, True) == (topic_matches(ANY, topic), topic_matches(topic, topic))


@settings(deadline=None)
@given(prefix=segments, rest=topics, other=segments)
def test_prefix_wildcard_matches_only_its_namespace(prefix: str, rest: str, other: str) -> None:
    assert topic_matches(f"{prefix}.*", f"{prefix}.{rest}")
    assert (other == prefix) == topic_matches(f"{prefix}.*", f"{other}.{rest}")


def test_publish_reaches_exact_wildcard_and_any_subscribers_only() -> None:
    bus = UnifiedEventBus()
    seen: dict[str, list[str]] = {"exact": [], "vm": [], "any": [], "other": []}
    bus.subscribe("vm.started", lambda e: seen["exact"].append(e.bus_topic))
    bus.subscribe("vm.*", lambda e: seen["vm"].append(e.bus_topic))
    bus.subscribe(ANY, lambda e: seen["any"].append(e.bus_topic))
    bus.subscribe("mmu.page_fault", lambda e: seen["other"].append(e.bus_topic))
    for topic in ("vm.started", "vm.paused", "exec.block_translated"):
        bus.publish(RuntimeEvent(topic))
    expected = {
        "exact": ["vm.started"],
        "vm": ["vm.started", "vm.paused"],
        "any": ["vm.started", "vm.paused", "exec.block_translated"],
        "other": [],
    }
    assert expected == seen


def test_unsubscribe_stops_delivery_and_unknown_ids_raise() -> None:
    bus = UnifiedEventBus()
    got: list[Any] = []
    sid = bus.subscribe("t", got.append)
    bus.publish(RuntimeEvent("t"))
    bus.unsubscribe(sid)
    bus.publish(RuntimeEvent("t"))
    assert 1 == len(got)
    with pytest.raises(UnknownSubscription):
        bus.unsubscribe(sid)


def test_unsubscribe_handler_removes_all_its_subscriptions() -> None:
    bus = UnifiedEventBus()
    got: list[Any] = []
    bus.subscribe("a", got.append)
    bus.subscribe("b", got.append)
    kept: list[Any] = []
    bus.subscribe("a", kept.append)
    assert 2 == bus.unsubscribe_handler(got.append)
    bus.publish(RuntimeEvent("a"))
    bus.publish(RuntimeEvent("b"))
    assert ([], 1) == (got, len(kept))


def test_event_without_topic_is_rejected() -> None:
    bus = UnifiedEventBus()
    with pytest.raises(TypeError):
        bus.publish(object())


def test_unrouted_events_are_counted_not_delivered() -> None:
    bus = UnifiedEventBus()
    bus.subscribe("a", lambda e: None)
    bus.publish(RuntimeEvent("nobody"))
    bus.publish(RuntimeEvent("a"))
    stats = bus.stats()
    assert (2, 1, 1) == (stats.published, stats.unrouted, stats.totals.delivered)


def _record(calls: list[int], index: int, event: object) -> None:
    calls.append(index)


@settings(deadline=None)
@given(priorities=st.lists(st.integers(-3, 3), min_size=1, max_size=12))
def test_handlers_run_highest_priority_first_ties_in_subscription_order(
    priorities: list[int],
) -> None:
    bus = UnifiedEventBus()
    calls: list[int] = []
    for index, priority in enumerate(priorities):
        bus.subscribe("t", functools.partial(_record, calls, index), priority=priority)
    bus.publish(RuntimeEvent("t"))
    expected = sorted(range(len(priorities)), key=lambda i: (-priorities[i], i))
    assert expected == calls


@settings(deadline=None)
@given(sequence=st.lists(st.integers(0, 1000), max_size=50))
def test_sync_subscription_sees_events_in_publication_order(sequence: list[int]) -> None:
    bus = UnifiedEventBus()
    got: list[int] = []
    bus.subscribe("t", lambda e: got.append(e.data["n"]))
    for n in sequence:
        bus.publish(RuntimeEvent("t", data={"n": n}))
    assert sequence == got


def test_subscribing_while_publishing_takes_effect_for_the_next_event() -> None:
    bus = UnifiedEventBus()
    late: list[Any] = []

    def first(event: Any) -> None:
        bus.subscribe("t", late.append)

    bus.subscribe("t", first)
    bus.publish(RuntimeEvent("t"))
    assert [] == late
    bus.publish(RuntimeEvent("t"))
    assert 1 == len(late)


def test_coroutine_handler_cannot_be_forced_into_sync_mode() -> None:
    async def handler(event: Any) -> None:
        return None

    with pytest.raises(ValueError):
        UnifiedEventBus().subscribe("t", handler, mode="sync")
