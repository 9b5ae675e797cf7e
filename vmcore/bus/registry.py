"""The subscription registry: subscriptions by id, and cached routes from topic to handlers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from vmcore.bus.subscription import Mode, Subscription
from vmcore.bus.topics import topic_matches


class Route:
    """Who receives an event of one topic, in priority order, split by processing mode."""

    __slots__ = (
        "batched",
        "count",
        "fast",
        "fast_count",
        "fast_subs",
        "queued",
        "queued_groups",
        "subscriptions",
        "sync",
        "untimed",
    )

    def __init__(self, subscriptions: list[Subscription]) -> None:
        self.subscriptions = tuple(subscriptions)
        sync = [s for s in subscriptions if s.mode is Mode.SYNC]
        self.fast_subs = tuple(sync)
        self.fast: tuple[Callable[[Any], Any], ...] | None = None
        """The bare handlers, when no synchronous subscriber has filters: the bus then calls
        them in a plain loop and counts their deliveries here, in :attr:`fast_count`."""
        self.fast_count = 0
        if all(s.chain is None for s in sync):
            self.fast = tuple(s.handler for s in sync)
            for s in sync:
                s.routes.append(self)
        self.sync: tuple[Callable[[Any], None], ...] = tuple(
            s.deliver for s in subscriptions if s.mode is Mode.SYNC
        )
        self.untimed: tuple[Callable[[Any], None], ...] = tuple(
            s.deliver_untimed for s in subscriptions if s.mode is Mode.SYNC
        )
        self.count = 0
        """Events routed so far: every n-th one has its synchronous latencies sampled."""
        self.queued = tuple(s for s in subscriptions if s.mode is Mode.ASYNC)
        self.batched = tuple(s for s in subscriptions if s.mode in (Mode.BATCH, Mode.ADAPTIVE))
        groups: dict[int, list[Subscription]] = {}
        for s in self.queued:
            groups.setdefault(s.worker, []).append(s)
        self.queued_groups = tuple((w, tuple(subs)) for w, subs in groups.items())
        """Asynchronous subscribers grouped by worker: one queue item per worker per event."""

    def retire(self) -> None:
        """Credit the fast-path deliveries to each subscriber once this route is dropped."""
        count, self.fast_count = self.fast_count, 0
        if self.fast is None:
            return
        for s in self.fast_subs:
            s.metrics.delivered += count
            if self in s.routes:
                s.routes.remove(self)


class SubscriptionRegistry:
    """Thread-safe registry. Routes are computed once per topic and dropped on any change,
    so a publish costs one dict lookup, and nothing more when nobody listens.

    Order within a topic: higher ``priority`` first; equal priorities in subscription order.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, Subscription] = {}
        self.routes: dict[str, Route] = {}
        """Route cache, read by the bus's hot path; replaced (never mutated) on changes."""
        self._lock = threading.Lock()

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            self._by_id[subscription.id] = subscription
            self._invalidate()

    def remove(self, subscription_id: int) -> Subscription | None:
        with self._lock:
            subscription = self._by_id.pop(subscription_id, None)
            if subscription is not None:
                subscription.active = False
                self._invalidate()
            return subscription

    def changed(self) -> None:
        """A subscription's handler changed: recompute the routes."""
        with self._lock:
            self._invalidate()

    def _invalidate(self) -> None:
        old, self.routes = self.routes, {}
        for route in old.values():
            route.retire()

    def get(self, subscription_id: int) -> Subscription | None:
        return self._by_id.get(subscription_id)

    def all(self) -> list[Subscription]:
        return sorted(self._by_id.values(), key=lambda s: s.id)

    def route_of(self, topic: str) -> Route:
        """The cached route of ``topic`` (computed if needed)."""
        return self.routes.get(topic) or self.route(topic)

    def route(self, topic: str) -> Route:
        """The route of ``topic``, computed and cached on first use."""
        with self._lock:
            matching = [s for s in self._by_id.values() if topic_matches(s.pattern, topic)]
            matching.sort(key=lambda s: (-s.priority, s.id))
            route = Route(matching)
            routes = dict(self.routes)
            routes[topic] = route
            self.routes = routes
            return route
