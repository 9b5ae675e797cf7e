"""A subscription: a handler, how it is fed (mode), and its filter, retry and metrics."""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from vmcore.bus.batching import Batcher
from vmcore.bus.clock import Clock
from vmcore.bus.dead_letters import DeadLetter, DeadLetterQueue
from vmcore.bus.filters import FilterChain
from vmcore.bus.metrics import DeliveryMetrics
from vmcore.bus.retry import RetryPolicy
from vmcore.domain.runtime import topic_of

if TYPE_CHECKING:
    from vmcore.bus.registry import Route

Handler = Callable[[Any], Any]
"""A plain function or coroutine function taking one event (or, in batch modes, a list)."""
FailureHook = Callable[["Subscription", Any, Exception], None]
_log = logging.getLogger(__name__)


def is_coroutine_handler(handler: Handler) -> bool:
    """Whether calling ``handler`` returns an awaitable (``async def`` or async ``__call__``)."""
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


class Mode(enum.Enum):
    """How events reach a handler."""

    SYNC = "sync"
    """Called in the publisher's thread, before ``publish`` returns."""
    ASYNC = "async"
    """Queued (bounded) and called by the bus's asyncio workers."""
    BATCH = "batch"
    """Buffered; the handler receives lists, flushed on size or interval."""
    ADAPTIVE = "adaptive"
    """Batch mode whose size is tuned toward a target latency."""


class Subscription:
    """One registered handler. Built by the bus; users only keep its ``id``."""

    def __init__(
        self,
        *,
        id: int,
        pattern: str,
        handler: Handler,
        priority: int,
        chain: FilterChain | None,
        mode: Mode,
        retry: RetryPolicy,
        name: str,
        clock: Clock,
        dead_letters: DeadLetterQueue,
        batcher: Batcher | None = None,
        timeout: float | None = None,
    ) -> None:
        self.id = id
        self.pattern = pattern
        self.handler = handler
        self.priority = priority
        self.chain = chain
        self.mode = mode
        self.retry = retry
        self.name = name
        self.clock = clock
        self.dead_letters = dead_letters
        self.batcher = batcher
        self.is_coroutine = is_coroutine_handler(handler)
        self.metrics = DeliveryMetrics(clock.now())
        self.worker = 0
        self.routes: list[Route] = []
        """Cached routes whose fast path counts this subscription's deliveries."""
        self.lock = threading.RLock()
        """Held by the bus around taking and delivering a batch, so batches stay in order."""
        self.active = True
        self.timeout = timeout
        """Seconds a coroutine handler may take before it is cancelled (``None``: no limit)."""
        self.on_failure: FailureHook | None = None
        """Called with (subscription, payload, error) on every failed attempt, before the
        retry or dead-letter decision (a supervisor's breaker listens here)."""
        self.timeouts = 0
        """Attempts cancelled by :attr:`timeout`."""
        self.errors: Counter[str] = Counter()
        """Failed attempts by exception type name."""
        self._build()

    def _build(self) -> None:
        self.deliver: Callable[[Any], None] = self._build_sync_deliver()
        """Synchronous delivery that also samples the handler's latency."""
        self.deliver_untimed: Callable[[Any], None] = self._build_untimed_deliver()
        """Synchronous delivery that only counts (most events: latency is sampled)."""

    def replace_handler(self, handler: Handler) -> None:
        """Swap the handler (same calling convention); the registry must drop its routes."""
        if is_coroutine_handler(handler) != self.is_coroutine:
            raise ValueError("a replacement handler must be a coroutine handler iff the first was")
        self.handler = handler
        self._build()

    async def call_async(self, payload: Any) -> None:
        """One attempt on the event loop: await a coroutine handler within :attr:`timeout`."""
        if not self.is_coroutine:
            self.handler(payload)
        elif self.timeout is None:
            await self.handler(payload)
        else:
            try:
                async with asyncio.timeout(self.timeout):
                    await self.handler(payload)
            except TimeoutError:
                self.timeouts += 1
                raise

    def _build_sync_deliver(self) -> Callable[[Any], None]:
        handler, chain, metrics, now = self.handler, self.chain, self.metrics, self.clock.now
        latencies = metrics.latencies
        fail = self.fail_sync

        if chain is None:

            def deliver(event: Any) -> None:
                t0 = now()
                try:
                    handler(event)
                except Exception as error:
                    fail(event, error, t0)
                    return
                metrics.delivered += 1
                latencies.append(now() - t0)

        else:

            def deliver(event: Any) -> None:
                t0 = now()
                try:
                    if not chain(event):
                        return
                    handler(event)
                except Exception as error:
                    fail(event, error, t0)
                    return
                metrics.delivered += 1
                latencies.append(now() - t0)

        return deliver

    def _build_untimed_deliver(self) -> Callable[[Any], None]:
        handler, chain, metrics, now = self.handler, self.chain, self.metrics, self.clock.now
        fail = self.fail_sync

        if chain is None:

            def deliver(event: Any) -> None:
                try:
                    handler(event)
                except Exception as error:
                    fail(event, error, now())
                    return
                metrics.delivered += 1

        else:

            def deliver(event: Any) -> None:
                try:
                    if not chain(event):
                        return
                    handler(event)
                except Exception as error:
                    fail(event, error, now())
                    return
                metrics.delivered += 1

        return deliver

    def delivered(self) -> int:
        """Successful deliveries so far, fast-path ones included."""
        return self.metrics.delivered + sum(r.fast_count for r in self.routes)

    def accepts(self, event: Any) -> bool:
        return self.chain is None or self.chain(event)

    def fail_sync(self, payload: Any, error: Exception, t0: float, count: int = 1) -> None:
        """Retry a failed synchronous delivery (waiting on the clock), else dead-letter it."""
        metrics, retry, attempt = self.metrics, self.retry, 1
        metrics.failed += 1
        self._report(payload, error)
        while retry.should_retry(error, attempt):
            self.clock.sleep(retry.delay(attempt))
            metrics.retried += 1
            attempt += 1
            try:
                self.handler(payload)
            except Exception as again:
                error = again
                metrics.failed += 1
                self._report(payload, error)
                continue
            self._succeeded(t0, count)
            return
        self._dead_letter(payload, error, attempt, count)

    async def deliver_async(
        self, payload: Any, t0: float | None, count: int = 1, error: Exception | None = None
    ) -> None:
        """Deliver on the event loop: await coroutine handlers, back off on the clock.

        ``error`` is the failure of a first attempt the caller already made; ``t0`` is
        ``None`` for an event whose latency is not sampled."""
        metrics, retry, attempt = self.metrics, self.retry, 1
        if error is None:
            try:
                await self.call_async(payload)
            except Exception as first:
                error = first
            else:
                self._succeeded(t0, count)
                return
        while True:
            metrics.failed += 1
            self._report(payload, error)
            if not retry.should_retry(error, attempt):
                self._dead_letter(payload, error, attempt, count)
                return
            await self.clock.asleep(retry.delay(attempt))
            metrics.retried += 1
            attempt += 1
            try:
                await self.call_async(payload)
            except Exception as again:
                error = again
                continue
            self._succeeded(t0, count)
            return

    def deliver_batch(self, batch: list[Any], first_at: float) -> None:
        """Hand a list to a synchronous batch handler (with retry) and tune the batch size."""
        try:
            self.handler(batch)
        except Exception as error:
            self.fail_sync(batch, error, first_at, len(batch))
        else:
            self._succeeded(first_at, len(batch))
        assert self.batcher is not None
        self.batcher.observe(self.clock.now() - first_at)

    def _report(self, payload: Any, error: Exception) -> None:
        self.errors[type(error).__name__] += 1
        hook = self.on_failure
        if hook is not None:
            try:
                hook(self, payload, error)
            except Exception:  # a supervisor's bug never breaks delivery
                _log.exception("failure hook of %s raised", self.name)

    def _succeeded(self, t0: float | None, count: int) -> None:
        self.metrics.delivered += count
        if t0 is not None:
            self.metrics.latencies.append(self.clock.now() - t0)

    def dead_letter(self, payload: Any, error: BaseException, attempts: int = 0,
                    count: int = 1) -> None:
        """Put ``payload`` in the dead-letter queue (it was not, or could not be, handled)."""
        self._dead_letter(payload, error, attempts, count)

    def _dead_letter(self, payload: Any, error: BaseException, attempts: int, count: int) -> None:
        is_batch = self.batcher is not None and isinstance(payload, list)
        sample = payload[0] if is_batch and payload else payload
        self.metrics.dead_lettered += count
        self.dead_letters.add(
            DeadLetter(
                subscription_id=self.id,
                subscription_name=self.name,
                topic=_safe_topic(sample),
                event=payload,
                error=error,
                attempts=attempts,
                failed_at=self.clock.now(),
                is_batch=is_batch,
            )
        )

    def queue_depth(self) -> int:
        return len(self.batcher) if self.batcher is not None else 0


def _safe_topic(event: object) -> str:
    try:
        return topic_of(event)
    except TypeError:
        return "?"


AsyncHandler = Callable[[Any], Awaitable[None]]
