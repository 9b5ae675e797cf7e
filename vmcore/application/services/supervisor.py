"""Supervision of one domain service's subscriptions: breaker, rate limit, timeouts, counts.

A healthy service costs nothing on the bus's hot path: while its breaker is closed and it
has no rate limit, its handlers are subscribed bare and the supervisor only hears about
failures (the subscription's ``on_failure`` hook). When the breaker opens, each handler is
replaced (same subscription, same order) by a guard that refuses events with
:class:`CircuitOpen` — they go to the dead-letter queue — and, half-open, lets calls through
to count successes. When the breaker closes the bare handlers come back and the refused
events are redriven from the dead letters.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from vmcore.application.services.breaker import BreakerState, CircuitBreaker, CircuitOpen
from vmcore.application.services.events import Error, ServiceEvent, ServiceState
from vmcore.application.services.limiter import RateLimited, TokenBucket
from vmcore.application.services.settings import ServiceSettings
from vmcore.bus import Clock, DeadLetter, DurableSubscription, UnifiedEventBus
from vmcore.bus.subscription import Handler, Subscription, is_coroutine_handler

REFUSALS = (CircuitOpen, RateLimited)


class Supervisor:
    def __init__(self, service: Any, settings: ServiceSettings, *, bus: UnifiedEventBus,
                 clock: Clock, emit: Callable[[ServiceEvent], None], origin: str) -> None:
        self.service = service
        self.name: str = service.name
        self.settings = settings
        self.origin = origin
        self.bus = bus
        self.clock = clock
        self._emit = emit
        self.state = ServiceState.REGISTERED
        self.breaker = CircuitBreaker(settings.breaker, clock=clock.now,
                                      on_change=self._breaker_changed)
        self.limiter = (TokenBucket.of(settings.rate_limit, clock=clock.now, sleep=clock.asleep)
                        if settings.rate_limit is not None else None)
        self.entries: dict[int, Handler] = {}
        """Subscription id -> the handler subscribed while the breaker is closed."""
        self.durables: dict[str, DurableSubscription] = {}
        """Names of this service's durable subscriptions (``durable = True`` services)."""
        self.errors: Counter[str] = Counter()
        self.rejected = 0
        self.restarts = 0
        self.healthy: bool | None = None
        self.health_detail = ""
        self.next_health_at = 0.0
        self._retired = Counter[str]()
        self.on_breaker_change: Callable[[Supervisor], None] | None = None

    # -- subscriptions ----------------------------------------------------------------------
    @property
    def durable(self) -> bool:
        """Whether the service asked (``durable = True``) to follow the store's log."""
        return bool(getattr(self.service, "durable", False))

    def attach(self) -> None:
        handlers: Mapping[str, Handler] = self.service.bus_handlers()
        if self.durable:
            self._attach_durable(handlers)
            return
        for topic, handler in handlers.items():
            entry = self._limited(handler) if self.limiter is not None else handler
            sid = self.bus.subscribe(topic, entry, name=f"{self.name}:{topic}",
                                     timeout=self.settings.handler_timeout)
            subscription = self.bus.subscription(sid)
            subscription.on_failure = self._failed
            self.entries[sid] = entry
            if self.breaker.state is not BreakerState.CLOSED:
                self.bus.replace_handler(sid, self._guard(entry))

    def _attach_durable(self, handlers: Mapping[str, Handler]) -> None:
        """One durable subscription per handler, named ``service:topic``: it catches up from
        its tracked position in the store's notification log (at-least-once)."""
        for topic, handler in handlers.items():
            name = f"{self.name}:{topic}"
            self.durables[name] = self.bus.subscribe_durable(name, handler, (topic,))

    def detach(self) -> None:
        for name in self.durables:
            with contextlib.suppress(KeyError):
                self.bus.stop_durable(name)
        self.durables.clear()
        for sid in list(self.entries):
            with contextlib.suppress(KeyError):
                s = self.bus.subscription(sid)
                self._retired.update(self._counts_of(s))
                self.bus.unsubscribe(sid)
        self.entries.clear()

    def subscriptions(self) -> list[Subscription]:
        live = []
        for sid in self.entries:
            with contextlib.suppress(KeyError):
                live.append(self.bus.subscription(sid))
        return live

    # -- failures ---------------------------------------------------------------------------
    def _failed(self, subscription: Subscription, payload: Any, error: Exception) -> None:
        if isinstance(error, REFUSALS):
            self.rejected += 1
            return
        self.errors[type(error).__name__] += 1
        self.breaker.record_failure()
        if isinstance(payload, ServiceEvent) or (isinstance(payload, list) and payload
                                                 and isinstance(payload[0], ServiceEvent)):
            return  # no Error event about an Error event: no feedback loop
        self._emit(Error(self.name, self.clock.now(), topic=_topic(payload),
                         error_type=type(error).__name__, message=str(error)[:500]))

    def _guard(self, entry: Handler) -> Handler:
        breaker, name = self.breaker, self.name
        if is_coroutine_handler(entry):
            async def guarded_async(event: Any) -> None:
                if not breaker.allow():
                    raise CircuitOpen(name)
                await entry(event)
                breaker.record_success()
            return guarded_async

        def guarded(event: Any) -> None:
            if not breaker.allow():
                raise CircuitOpen(name)
            entry(event)
            breaker.record_success()
        return guarded

    def _limited(self, handler: Handler) -> Handler:
        limiter, name = self.limiter, self.name
        assert limiter is not None
        if is_coroutine_handler(handler):
            async def limited_async(event: Any) -> None:
                await limiter.acquire()
                await handler(event)
            return limited_async

        def limited(event: Any) -> None:
            if not limiter.try_acquire():
                raise RateLimited(f"service {name!r} is over its rate limit")
            handler(event)
        return limited

    def _breaker_changed(self, old: BreakerState, new: BreakerState) -> None:
        if old is BreakerState.CLOSED:
            for sid, entry in self.entries.items():
                self._replace(sid, self._guard(entry))
        elif new is BreakerState.CLOSED:
            for sid, entry in self.entries.items():
                self._replace(sid, entry)
            self._schedule_redrive()
        if self.on_breaker_change is not None:
            self.on_breaker_change(self)

    def _replace(self, sid: int, handler: Handler) -> None:
        with contextlib.suppress(KeyError):
            self.bus.replace_handler(sid, handler)

    # -- dead letters -----------------------------------------------------------------------
    def redrive(self, *, refused_only: bool = True) -> int:
        """Deliver this service's dead letters again (by default only those its breaker
        or rate limit refused); returns how many were redriven."""
        ids = set(self.entries)

        def mine(letter: DeadLetter) -> bool:
            return letter.subscription_id in ids and (
                not refused_only or isinstance(letter.error, REFUSALS))

        return self.bus.redrive(mine)

    def _schedule_redrive(self) -> None:
        """After the handler call that closed the breaker: inline for synchronous
        handlers, off the event loop for asynchronous ones (redrive may wait for room)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.redrive()
        else:
            loop.run_in_executor(None, self.redrive)

    # -- figures ----------------------------------------------------------------------------
    @staticmethod
    def _counts_of(s: Subscription) -> Counter[str]:
        m = s.metrics
        return Counter(delivered=s.delivered(), attempts_failed=m.failed,
                       dead_lettered=m.dead_lettered, timeouts=s.timeouts)

    def counts(self) -> dict[str, int]:
        """delivered, failed (handler failures, refusals excluded), rejected (breaker or
        rate limit), timeouts, dead_lettered, restarts."""
        total = Counter(self._retired)
        for s in self.subscriptions():
            total.update(self._counts_of(s))
        return {"delivered": total["delivered"],
                "failed": max(0, total["attempts_failed"] - self.rejected),
                "rejected": self.rejected, "timeouts": total["timeouts"],
                "dead_lettered": total["dead_lettered"], "restarts": self.restarts}

    def latencies(self) -> list[float]:
        """The sampled handler latencies of the recent window, every subscription."""
        return [x for s in self.subscriptions() for x in list(s.metrics.latencies)]


def _topic(payload: Any) -> str:
    sample = payload[0] if isinstance(payload, list) and payload else payload
    topic = getattr(sample, "bus_topic", "?")
    return topic if isinstance(topic, str) else "?"
