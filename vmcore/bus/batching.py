"""Batch buffers and the adaptive batch-size tuner (seed 000's "smart batching")."""

from __future__ import annotations

from typing import Any

from attrs import define, field, validators


@define
class AdaptiveBatching:
    """Tunes a batch size toward ``target_latency`` seconds (oldest event's wait + handling).

    After every flush: above the target the size shrinks by ``step`` (10 %), below half the
    target it grows by ``step``, in between it stays; it never leaves ``[min_size, max_size]``.
    """

    target_latency: float = field(validator=validators.gt(0.0))
    min_size: int = field(default=1, validator=validators.ge(1))
    max_size: int = field(default=100_000, validator=validators.ge(1))
    step: float = field(default=0.1, validator=[validators.gt(0.0), validators.lt(1.0)])

    def next_size(self, size: int, latency: float) -> int:
        if latency > self.target_latency:
            size = min(size - 1, int(size * (1.0 - self.step)))
        elif latency < self.target_latency / 2:
            size = max(size + 1, int(size * (1.0 + self.step)))
        return max(self.min_size, min(self.max_size, size))


class Batcher:
    """A buffer that releases a batch on size or once ``interval`` has passed.

    Not locked itself: the bus holds the subscription's lock around take-and-deliver so that
    batches reach the handler in order even when a timer and a publisher race.
    """

    def __init__(
        self, size: int, interval: float, adaptive: AdaptiveBatching | None = None
    ) -> None:
        if size < 1 or interval <= 0:
            raise ValueError("batch_size must be >= 1 and batch_interval > 0")
        self.size = size
        self.interval = interval
        self.adaptive = adaptive
        self._buffer: list[Any] = []
        self._first_at = 0.0

    def __len__(self) -> int:
        return len(self._buffer)

    def offer(self, event: Any, now: float) -> tuple[list[Any], float] | None:
        """Buffer ``event``; return ``(batch, first_at)`` when the batch is due."""
        buffer = self._buffer
        if not buffer:
            self._first_at = now
        buffer.append(event)
        if len(buffer) >= self.size or now - self._first_at >= self.interval:
            self._buffer = []
            return buffer, self._first_at
        return None

    def offer_many(self, events: list[Any], now: float) -> list[tuple[list[Any], float]]:
        """Buffer several events; return every batch that became due, in order."""
        out: list[tuple[list[Any], float]] = []
        buffer = self._buffer
        if not buffer:
            self._first_at = now
        start = 0
        total = len(events)
        while start < total:
            take = self.size - len(buffer)
            buffer.extend(events[start : start + take])
            start += take
            if len(buffer) >= self.size:
                out.append((buffer, self._first_at))
                buffer = []
                self._first_at = now
        if buffer and now - self._first_at >= self.interval:
            out.append((buffer, self._first_at))
            buffer = []
        self._buffer = buffer
        return out

    def due(self, now: float) -> tuple[list[Any], float] | None:
        """The buffered batch if its interval has elapsed."""
        if self._buffer and now - self._first_at >= self.interval:
            batch, self._buffer = self._buffer, []
            return batch, self._first_at
        return None

    def drain(self) -> tuple[list[Any], float] | None:
        """Whatever is buffered, now."""
        if not self._buffer:
            return None
        batch, self._buffer = self._buffer, []
        return batch, self._first_at

    def observe(self, latency: float) -> None:
        """Feed a flush's latency to the adaptive tuner, if any."""
        if self.adaptive is not None:
            self.size = self.adaptive.next_size(self.size, latency)
