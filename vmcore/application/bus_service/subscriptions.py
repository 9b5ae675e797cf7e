"""Push subscriptions: each has a bounded buffer; a subscriber that falls a whole buffer
behind is dropped (its buffer freed, a notice queued) so it never blocks the others."""

from __future__ import annotations

import asyncio
import itertools

from vmcore_event_store.bus_log import StoredEvent, topic_selected


class Subscription:
    def __init__(self, subscription_id: str, pattern: str, capacity: int) -> None:
        self.id = subscription_id
        self.pattern = pattern
        self.capacity = capacity
        self.dropped_reason: str | None = None
        self._queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue()
        self._ended = False

    def offer(self, event: StoredEvent) -> bool:
        """Buffer ``event``; False when that overflowed the buffer and dropped us."""
        if self._ended:
            return False
        if self._queue.qsize() >= self.capacity:
            self.dropped_reason = (f"subscriber fell {self.capacity} events behind;"
                                   " poll_events from the last event_id seen, then resubscribe")
            self.end()
            return False
        self._queue.put_nowait(event)
        return True

    def end(self) -> None:
        """No more events: free the buffer and wake the reader with the end mark."""
        if not self._ended:
            self._ended = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    async def next(self) -> StoredEvent | None:
        """The next event, or ``None`` once ended (see :attr:`dropped_reason`)."""
        return await self._queue.get()

    @property
    def buffered(self) -> int:
        return self._queue.qsize()


class Broadcaster:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._subscriptions: dict[str, Subscription] = {}
        self._ids = itertools.count(1)

    def subscribe(self, pattern: str) -> Subscription:
        subscription = Subscription(f"sub-{next(self._ids)}", pattern, self.capacity)
        self._subscriptions[subscription.id] = subscription
        return subscription

    def unsubscribe(self, subscription_id: str) -> bool:
        subscription = self._subscriptions.pop(subscription_id, None)
        if subscription is None:
            return False
        subscription.end()
        return True

    def publish(self, events: list[StoredEvent]) -> None:
        for subscription in list(self._subscriptions.values()):
            for event in events:
                if topic_selected(subscription.pattern, event.topic) and not subscription.offer(
                        event):
                    del self._subscriptions[subscription.id]
                    break

    def close(self) -> None:
        for subscription_id in list(self._subscriptions):
            self.unsubscribe(subscription_id)
