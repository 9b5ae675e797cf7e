"""The dead-letter queue: events a handler still failed on after its last attempt."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from attrs import frozen


@frozen
class DeadLetter:
    """One undeliverable event (or batch) with why and where it failed."""

    subscription_id: int
    subscription_name: str
    topic: str
    event: Any
    error: BaseException
    attempts: int
    failed_at: float
    is_batch: bool = False


class DeadLetterQueue:
    """A bounded, thread-safe list of dead letters; the oldest are dropped (and counted)."""

    def __init__(self, max_size: int = 10_000) -> None:
        self._letters: deque[DeadLetter] = deque(maxlen=max_size)
        self._lock = threading.Lock()
        self.dropped = 0

    def add(self, letter: DeadLetter) -> None:
        with self._lock:
            if self._letters.maxlen is not None and len(self._letters) == self._letters.maxlen:
                self.dropped += 1
            self._letters.append(letter)

    def letters(self) -> list[DeadLetter]:
        """A copy of the dead letters, oldest first."""
        with self._lock:
            return list(self._letters)

    def __len__(self) -> int:
        return len(self._letters)

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(self.letters())

    def take(self, predicate: Callable[[DeadLetter], bool] | None = None) -> list[DeadLetter]:
        """Remove and return the letters that match ``predicate`` (all when ``None``)."""
        with self._lock:
            taken = [d for d in self._letters if predicate is None or predicate(d)]
            kept = [d for d in self._letters if not (predicate is None or predicate(d))]
            self._letters.clear()
            self._letters.extend(kept)
            return taken
