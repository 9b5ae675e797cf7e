"""A bounded in-memory log: the newest ``max_events`` events (older ones are forgotten)."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence

from vmcore_event_store.bus_log.records import (
    MAX_LIMIT,
    Firing,
    LogQuery,
    NewEvent,
    StoredEvent,
    TopicInfo,
)

DEFAULT_MAX_EVENTS = 100_000


class MemoryBusLog:
    """Nothing survives the process; memory stays bounded by ``max_events``."""

    durable = False

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self._events: list[StoredEvent] = []
        self._ids: list[int] = []
        self._next_id = 1
        self._counts: Counter[str] = Counter()
        self._last: dict[str, int] = {}
        self._firings: set[Firing] = set()
        self._cursors: dict[str, int] = {}
        self._rules: dict[str, str] = {}

    def append(self, events: Sequence[NewEvent], *, firing: Firing | None = None,
               cursor: tuple[str, int] | None = None) -> list[StoredEvent] | None:
        if firing is not None:
            if firing in self._firings:
                return None
            self._firings.add(firing)
        stored = []
        for event in events:
            record = StoredEvent.of(self._next_id, event)
            self._next_id += 1
            self._events.append(record)
            self._ids.append(record.event_id)
            self._counts[record.topic] += 1
            self._last[record.topic] = record.event_id
            stored.append(record)
        if cursor is not None:
            self._cursors[cursor[0]] = cursor[1]
        self._trim()
        return stored

    def _trim(self) -> None:
        excess = len(self._events) - self.max_events
        if excess <= max(1, self.max_events // 8):
            return
        for event in self._events[:excess]:
            self._counts[event.topic] -= 1
            if not self._counts[event.topic]:
                del self._counts[event.topic]
                del self._last[event.topic]
        del self._events[:excess]
        del self._ids[:excess]
        oldest = self._ids[0]
        self._firings = {f for f in self._firings if f.trigger_event_id >= oldest}

    def select(self, query: LogQuery) -> list[StoredEvent]:
        start = bisect.bisect_right(self._ids, query.since)
        limit = min(query.limit, MAX_LIMIT)
        found: list[StoredEvent] = []
        for event in self._events[start:]:
            if query.matches(event):
                found.append(event)
                if len(found) >= limit:
                    break
        return found

    def topics(self) -> list[TopicInfo]:
        return [TopicInfo(topic, count, self._last[topic])
                for topic, count in sorted(self._counts.items())]

    def last_event_id(self) -> int:
        return self._next_id - 1

    def fired(self, firing: Firing) -> bool:
        return firing in self._firings

    def cursor(self, name: str) -> int:
        return self._cursors.get(name, 0)

    def put_rule(self, rule_id: str, body: str) -> None:
        self._rules[rule_id] = body

    def delete_rule(self, rule_id: str) -> bool:
        return self._rules.pop(rule_id, None) is not None

    def rules(self) -> list[tuple[str, str]]:
        return sorted(self._rules.items())

    def close(self) -> None:
        pass
