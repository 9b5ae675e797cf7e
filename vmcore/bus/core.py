"""The unified event bus: one registry, four processing modes, one dead-letter queue."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from vmcore.bus.batching import AdaptiveBatching, Batcher
from vmcore.bus.clock import Clock, SystemClock
from vmcore.bus.dead_letters import DeadLetter, DeadLetterQueue
from vmcore.bus.durable import DurableHandler, DurableSubscription, WakeOnPublish
from vmcore.bus.durable_status import DurableStatus
from vmcore.bus.errors import BusError, UnknownSubscription
from vmcore.bus.filters import EventFilter, FilterChain
from vmcore.bus.metrics import BusStats, DeliveryMetrics
from vmcore.bus.migration import Upcaster
from vmcore.bus.registry import Route, SubscriptionRegistry
from vmcore.bus.retry import NO_RETRY, RetryPolicy
from vmcore.bus.stats import collect_stats
from vmcore.bus.subscription import Handler, Mode, Subscription, is_coroutine_handler
from vmcore.bus.topics import validate_pattern
from vmcore.bus.workers import WorkerPool
from vmcore.domain.runtime import topic_of

if TYPE_CHECKING:
    from eventsourcing.application import Application
    from eventsourcing.persistence import TrackingRecorder

Overflow = Literal["raise", "block"]


class UnifiedEventBus:
    """Publish events by topic to handlers subscribed by pattern.

    * ``publish`` runs synchronous handlers in the caller's thread, queues events for
      asynchronous ones and buffers them for batch ones; nobody subscribed costs one lookup.
    * Handlers of one topic run in ``priority`` order, highest first, ties in subscription
      order; each subscription sees its events in publication order in every mode.
    * A raising handler never affects the others: its delivery is retried per its
      :class:`RetryPolicy`, then dead-lettered (:attr:`dead_letters`, :meth:`redrive`).
    * ``upcaster`` (``event -> event``) runs before dispatch, so handlers see current classes.
    * Synchronous and asynchronous latency is timed on one event in ``latency_sampling``
      per topic (a power of two; 1 times every delivery); counters are exact.
    * Asynchronous and batch-timer work runs on ``workers`` asyncio tasks (default 4) on the
      loop current at :meth:`start`, or on one background thread: at most ``workers + 1``
      tasks and one thread.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        upcaster: Upcaster | None = None,
        workers: int = 4,
        max_queue_size: int = 1_000,
        max_concurrency: int | None = None,
        overflow: Overflow = "block",
        priority_queues: bool = False,
        dead_letter_limit: int = 10_000,
        batch_tick: float = 0.005,
        durable_source: Application[Any] | None = None,
        latency_sampling: int = 8,
        handler_timeout: float | None = None,
        default_retry: RetryPolicy | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._upcaster = upcaster
        self._registry = SubscriptionRegistry()
        self._pool = WorkerPool(
            workers=workers,
            max_queue_size=max_queue_size,
            max_concurrency=max_concurrency or workers,
            priority_queues=priority_queues,
            tick=batch_tick,
        )
        self._pool.on_tick = self.flush_due
        self._block = overflow == "block"
        if latency_sampling < 1 or latency_sampling & (latency_sampling - 1):
            raise ValueError("latency_sampling must be a power of two")
        self._sample_mask = latency_sampling - 1
        self._ids = itertools.count(1)
        self._published = 0
        self._unrouted = 0
        self._retired = DeliveryMetrics(self.clock.now(), window=1)
        self.dead_letters = DeadLetterQueue(dead_letter_limit)
        self.durable_source = durable_source
        self._durables: dict[str, DurableSubscription] = {}
        self.handler_timeout = handler_timeout
        """Default limit in seconds on one attempt of a coroutine handler (``None``: none)."""
        self.default_retry = default_retry or NO_RETRY
        """The retry policy of subscriptions that do not name one."""
        self.publish_errors = 0
        """Events :meth:`publish_committed` could not route at all (also dead-lettered)."""

    def reconfigure(self, *, handler_timeout: float | object | None = ...,
                    default_retry: RetryPolicy | None = None) -> None:
        """Change the settings that are safe to change while running: the default handler
        timeout (applied to the existing subscriptions that use the default, too) and the
        default retry policy (for later subscriptions)."""
        if handler_timeout is not ...:
            assert handler_timeout is None or isinstance(handler_timeout, int | float)
            old, self.handler_timeout = self.handler_timeout, handler_timeout
            for s in self._registry.all():
                if s.is_coroutine and s.timeout == old:
                    s.timeout = handler_timeout
        if default_retry is not None:
            self.default_retry = default_retry

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(
        self,
        topic_or_pattern: str,
        handler: Handler,
        *,
        priority: int = 0,
        filters: Iterable[EventFilter] | EventFilter | None = None,
        mode: Mode | str | None = None,
        retry: RetryPolicy | None = None,
        batch_size: int = 100,
        batch_interval: float = 0.05,
        target_latency: float | None = None,
        name: str | None = None,
        timeout: float | None = None,
    ) -> int:
        """Register ``handler`` and return the subscription id.

        ``timeout`` limits one attempt of a coroutine handler (default: the bus's
        ``handler_timeout``; ``0``: no limit); a timed-out attempt fails with TimeoutError.

        ``mode`` defaults to ASYNC for coroutine functions and SYNC otherwise. BATCH and
        ADAPTIVE handlers receive lists, flushed at ``batch_size`` events or once the oldest
        has waited ``batch_interval`` seconds; ADAPTIVE tunes the size toward
        ``target_latency`` (default: ``batch_interval``).
        """
        pattern = validate_pattern(topic_or_pattern)
        sid = next(self._ids)
        batcher = None
        coroutine = is_coroutine_handler(handler)
        resolved = Mode(mode) if mode is not None else (Mode.ASYNC if coroutine else Mode.SYNC)
        if resolved is Mode.SYNC and coroutine:
            raise ValueError("a coroutine handler cannot run in SYNC mode: use ASYNC or BATCH")
        if resolved is Mode.ADAPTIVE:
            adaptive = AdaptiveBatching(target_latency or batch_interval, max_size=10 * batch_size)
            batcher = Batcher(batch_size, batch_interval, adaptive)
        elif resolved is Mode.BATCH:
            batcher = Batcher(batch_size, batch_interval)
        subscription = Subscription(
            id=sid,
            pattern=pattern,
            handler=handler,
            priority=priority,
            chain=FilterChain.of(filters),
            mode=resolved,
            retry=retry or self.default_retry,
            name=name or str(getattr(handler, "__qualname__", repr(handler))),
            clock=self.clock,
            dead_letters=self.dead_letters,
            batcher=batcher,
            timeout=(timeout or None) if timeout is not None else self.handler_timeout,
        )
        subscription.worker = sid % self._pool.workers
        self._registry.add(subscription)
        return sid

    def unsubscribe(self, subscription_id: int) -> None:
        """Remove a subscription; events already queued for it are dropped by the workers."""
        subscription = self._registry.remove(subscription_id)
        if subscription is None:
            raise UnknownSubscription(subscription_id)
        self._flush(subscription, drain=True)
        self._retired.absorb(subscription.metrics)

    def subscription(self, subscription_id: int) -> Subscription:
        """The live subscription ``subscription_id`` (its metrics, hook and timeout)."""
        subscription = self._registry.get(subscription_id)
        if subscription is None:
            raise UnknownSubscription(subscription_id)
        return subscription

    def subscriptions(self) -> list[Subscription]:
        """Every live subscription, oldest first."""
        return self._registry.all()

    def replace_handler(self, subscription_id: int, handler: Handler) -> None:
        """Deliver the subscription's later events to ``handler`` instead (same id, order,
        metrics and dead letters): how a supervisor puts a guard in front of a handler and
        takes it away again, so a healthy handler is called bare."""
        self.subscription(subscription_id).replace_handler(handler)
        self._registry.changed()

    def unsubscribe_handler(self, handler: Handler) -> int:
        """Remove every subscription of ``handler``; return how many there were."""
        ids = [s.id for s in self._registry.all() if s.handler == handler]
        for sid in ids:
            self.unsubscribe(sid)
        return len(ids)

    def subscribe_durable(
        self,
        name: str,
        handler: DurableHandler,
        topics: Sequence[str] = ("*",),
        *,
        application: Application[Any] | None = None,
        view: TrackingRecorder | None = None,
        store_topics: Sequence[str] = (),
        retry: RetryPolicy | None = None,
        poll_interval: float | None = None,
        track_every: int = 1,
    ) -> DurableSubscription:
        """Follow the store's notification log under ``name`` (see :mod:`vmcore.bus.durable`).

        ``application`` defaults to the bus's ``durable_source``. ``topics`` are bus topic
        patterns; ``store_topics`` (eventsourcing topics) filter in the database instead.
        A plain handler's position is written every ``track_every`` events (1: after each;
        more: faster catch-up, and up to that many events replayed after a crash).
        Events this process publishes on matching topics wake the subscriber at once;
        ``poll_interval`` overrides how often a polling store is checked for other
        processes' commits. The subscription survives store outages (see ``status()``).
        """
        source = application or self.durable_source
        if source is None:
            raise ValueError("no application to follow: pass application= or durable_source=")
        if name in self._durables:
            raise ValueError(f"a durable subscription named {name!r} is running")
        durable = DurableSubscription(
            name=name,
            handler=handler,
            topics=topics,
            application=source,
            view=view,
            store_topics=store_topics,
            retry=retry or NO_RETRY,
            poll_interval=poll_interval,
            track_every=track_every,
            upcaster=self._upcaster,
            clock=self.clock,
            dead_letters=self.dead_letters,
        )
        self._durables[name] = durable
        if durable.polls:  # stores that push (Postgres, in-memory) need no wake-up
            for pattern in topics:
                self.subscribe(pattern, WakeOnPublish(durable), name=f"durable:{name}")
        return durable

    def durable_statuses(self) -> list[DurableStatus]:
        """What each running durable subscription is doing (state, position, outages)."""
        return [durable.status() for durable in list(self._durables.values())]

    def stop_durable(self, name: str) -> None:
        """Stop the durable subscription ``name`` (its position stays recorded)."""
        durable = self._durables.pop(name)
        durable.stop()
        self.unsubscribe_handler(WakeOnPublish(durable))

    # -- publishing ------------------------------------------------------------------------
    def _route(self, event: Any) -> tuple[Any, Route]:
        if self._upcaster is not None:
            event = self._upcaster(event)
        try:
            topic = event.bus_topic
        except AttributeError:
            topic = topic_of(event)
        route = self._registry.routes.get(topic)
        if route is None:
            route = self._registry.route(topic_of(event))
        return event, route

    def publish(self, event: Any, *, priority: int = 0) -> None:
        """Dispatch one event from synchronous code (see the class notes for each mode)."""
        # The routing of ``_route`` is inlined here: this is the bus's hot path.
        if self._upcaster is not None:
            event = self._upcaster(event)
        try:
            topic = event.bus_topic
        except AttributeError:
            topic = topic_of(event)
        route = self._registry.routes.get(topic)
        if route is None:
            route = self._registry.route(topic_of(event))
        self._published += 1
        if not route.subscriptions:
            self._unrouted += 1
            return
        route.count += 1
        fast = route.fast
        if fast is not None and route.count & self._sample_mask:
            route.fast_count += 1
            for index, handler in enumerate(fast):
                try:
                    handler(event)
                except Exception as error:
                    self._fast_failed(route, index, event, error)
        else:
            for deliver in route.untimed if route.count & self._sample_mask else route.sync:
                deliver(event)
        if route.queued_groups:
            self._enqueue(route, event, priority, True)
        if route.batched:
            self._offer(route.batched, [event])

    def publish_committed(self, event: Any) -> None:
        """Dispatch an event that is already committed: this never raises. What cannot be
        queued (bus stopped, queue full) is dead-lettered per subscription, as are handler
        failures; an event that cannot even be routed is dead-lettered under ``"bus"``."""
        try:
            event, route = self._route(event)
            self._published += 1
            if not route.subscriptions:
                self._unrouted += 1
                return
            self._dispatch(route, event, 0, False)
        except Exception as error:  # an upcaster or a topic that failed: keep the event
            self.publish_errors += 1
            self.dead_letters.add(DeadLetter(
                subscription_id=0, subscription_name="bus", topic="?", event=event,
                error=error, attempts=0, failed_at=self.clock.now()))

    def _dispatch(self, route: Route, event: Any, priority: int, raising: bool) -> None:
        """The delivery loop, once: synchronous handlers, queues, batches (``publish``
        inlines the same steps on its hot path)."""
        self._run_sync(route, event)
        if route.queued_groups:
            self._enqueue(route, event, priority, raising)
        if route.batched:
            self._offer(route.batched, [event])

    def _enqueue(self, route: Route, event: Any, priority: int, raising: bool) -> None:
        """Queue ``event`` for the asynchronous subscribers of ``route``. When the pool
        refuses (stopped, full) this raises, or with ``raising`` false dead-letters."""
        t0 = None if route.count & self._sample_mask else self.clock.now()
        for worker, subs in route.queued_groups:
            try:
                self._pool.submit(worker, (subs, event, t0, False), priority, self._block)
            except BusError as error:
                if raising:
                    raise
                for s in subs:
                    s.dead_letter(event, error)

    async def publish_async(self, event: Any, *, priority: int = 0) -> None:
        """Dispatch one event from a coroutine, waiting while a queue is full."""
        event, route = self._route(event)
        self._published += 1
        if not route.subscriptions:
            self._unrouted += 1
            return
        if route.sync:
            self._run_sync(route, event)  # counts the event
        else:
            route.count += 1
        if route.queued_groups:
            t0 = None if route.count & self._sample_mask else self.clock.now()
            pool = self._pool
            if pool.accepting and not pool.priority_queues and pool.on_loop_thread():
                queues = pool.queues  # the common case, inlined: no coroutine per put
                for worker, subs in route.queued_groups:
                    q = queues[worker]
                    item = (subs, event, t0, False)
                    try:
                        q.put_nowait(item)
                    except asyncio.QueueFull:
                        await q.put(item)
            else:
                for worker, subs in route.queued_groups:
                    await pool.submit_async(worker, (subs, event, t0, False), priority)
        if route.batched:
            self._offer(route.batched, [event])

    def publish_batch(self, events: Iterable[Any]) -> None:
        """Dispatch many events; batch subscribers get them appended in one step."""
        upcaster = self._upcaster
        items = list(events) if upcaster is None else [upcaster(e) for e in events]
        if not items:
            return
        try:
            topics = {e.bus_topic for e in items}
        except AttributeError:
            topics = {topic_of(e) for e in items}
        if len(topics) == 1:
            (topic,) = topics
            route = self._registry.routes.get(topic) or self._registry.route(topic)
            self._dispatch_many(route, items)
            return
        self._published += len(items)
        gathered: dict[int, tuple[Subscription, list[Any]]] = {}
        for event in items:  # mixed topics: route each, gather per batch subscriber in order
            route = self._registry.route_of(topic_of(event))
            if not route.subscriptions:
                self._unrouted += 1
                continue
            self._run_sync(route, event)
            if route.queued_groups:
                self._enqueue(route, event, 0, True)
            for s in route.batched:
                entry = gathered.get(s.id)
                if entry is None:
                    gathered[s.id] = (s, [event])
                else:
                    entry[1].append(event)
        for s, batch in gathered.values():
            self._offer((s,), batch)

    def _dispatch_many(self, route: Route, items: list[Any]) -> None:
        self._published += len(items)
        if not route.subscriptions:
            self._unrouted += len(items)
            return
        if route.sync or route.queued_groups:
            for event in items:
                self._run_sync(route, event)
                if route.queued_groups:
                    self._enqueue(route, event, 0, True)
        if route.batched:
            self._offer(route.batched, items)

    def _run_sync(self, route: Route, event: Any) -> None:
        """The synchronous handlers of ``route`` (``publish`` inlines the same steps)."""
        route.count += 1
        fast = route.fast
        if fast is not None and route.count & self._sample_mask:
            route.fast_count += 1
            for index, handler in enumerate(fast):
                try:
                    handler(event)
                except Exception as error:
                    self._fast_failed(route, index, event, error)
            return
        for deliver in route.untimed if route.count & self._sample_mask else route.sync:
            deliver(event)

    def _fast_failed(self, route: Route, index: int, event: Any, error: Exception) -> None:
        s = route.fast_subs[index]
        s.metrics.delivered -= 1  # the route counted it delivered; retry may count it again
        s.fail_sync(event, error, self.clock.now())

    def _offer(self, subscriptions: Iterable[Subscription], events: list[Any]) -> None:
        now = self.clock.now()
        for s in subscriptions:
            batcher = s.batcher
            assert batcher is not None
            chain = s.chain
            accepted = events if chain is None else [e for e in events if chain(e)]
            if not accepted:
                continue
            with s.lock:
                for due in batcher.offer_many(accepted, now):
                    self._deliver_batch(s, due)

    def _deliver_batch(self, s: Subscription, due: tuple[list[Any], float]) -> None:
        batch, first_at = due
        if s.is_coroutine:
            self._pool.submit(s.worker, ((s,), batch, first_at, True), 0, self._block)
        else:
            s.deliver_batch(batch, first_at)

    def _flush(self, s: Subscription, *, drain: bool) -> None:
        if s.batcher is None:
            return
        with s.lock:
            due = s.batcher.drain() if drain else s.batcher.due(self.clock.now())
            if due is not None:
                self._deliver_batch(s, due)

    def flush_due(self) -> bool:
        """Hand over the batches whose interval has elapsed (the workers call this every
        tick); return whether any batch subscription exists."""
        batched = [s for s in self._registry.all() if s.batcher is not None]
        for s in batched:
            self._flush(s, drain=False)
        return bool(batched)

    def flush(self) -> None:
        """Hand every buffered batch to its handler now."""
        for s in self._registry.all():
            self._flush(s, drain=True)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the asynchronous workers (on this thread's running loop, or a new thread)."""
        self._pool.start()

    def stop(self) -> None:
        """Flush batches and drain every queue, then stop the workers. Nothing accepted
        is dropped. From the pool's own event loop use :meth:`stop_async`."""
        self.flush()
        self._pool.stop()
        for name in list(self._durables):
            self.stop_durable(name)

    async def stop_async(self) -> None:
        """Like :meth:`stop`, awaitable on the loop the bus was started on."""
        self.flush()
        if self._pool.running:
            if self._pool.on_loop_thread():
                await self._pool.stop_async()
            else:
                await asyncio.to_thread(self._pool.stop)
        for name in list(self._durables):
            await asyncio.to_thread(self.stop_durable, name)

    async def join(self) -> None:
        """Wait (on the bus's loop) until every queued event has been handled."""
        self.flush()
        if not self._pool.running:
            return
        if self._pool.on_loop_thread():
            await self._pool.join()
        else:
            await asyncio.wrap_future(self._pool.call(self._pool.join()))

    @property
    def running(self) -> bool:
        return self._pool.running

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the asynchronous workers run on (``None`` when stopped)."""
        return self._pool.loop

    # -- dead letters ----------------------------------------------------------------------
    def redrive(self, predicate: Callable[[DeadLetter], bool] | None = None) -> int:
        """Deliver dead letters again, synchronously, to their (still live) subscriptions.

        Letters whose subscription is gone are kept. Failures are dead-lettered again.
        Returns how many letters were re-driven.
        """
        letters = self.dead_letters.take(predicate)
        count = 0
        for letter in letters:
            s = self._registry.get(letter.subscription_id)
            if s is None:
                self.dead_letters.add(letter)
                continue
            count += 1
            t0 = self.clock.now()
            if s.is_coroutine:  # coroutine handlers run on the workers (bus must be started)
                item = ((s,), letter.event, t0, letter.is_batch)
                self._pool.submit(s.worker, item, 0, self._block)
            elif letter.is_batch:
                s.deliver_batch(letter.event, t0)
            else:
                s.deliver(letter.event)
        return count

    # -- metrics ---------------------------------------------------------------------------
    def stats(self) -> BusStats:
        """Counters, queue depths and latency percentiles, per subscription and overall."""
        return collect_stats(
            self._registry.all(),
            retired=self._retired,
            pool=self._pool,
            published=self._published,
            unrouted=self._unrouted,
            dead_letters=len(self.dead_letters),
            now=self.clock.now(),
        )
