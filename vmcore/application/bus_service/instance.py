"""One bus instance (seed 002's EventBusInstance): emits, polling, topics, push subscriptions
and, when enabled, the rules engine.

A durable log is owned by one :class:`~vmcore.application.bus_service.storage.StorageThread`:
every storage call runs there in order, and the emits that queue up while a commit is in
flight go in the next transaction together (group commit), so a durable emit is answered
after its fsync and concurrent emitters share fsyncs. At most ``queue_size`` emits wait for
storage; past that, emitters wait up to ``emit_wait_ms``, then fail with a clear error. The
in-memory log is called on the event loop. Events reach subscribers and the rules engine in
event_id order; a durable log is also re-read periodically, so events another process stored
are pushed too.

Waits with a deadline use ``asyncio.timeout``, never ``asyncio.wait_for``: on Python 3.11,
``wait_for`` returns the result, dropping a ``cancel()``, when the awaited thing finishes in the
same loop step as the cancellation (cpython gh-86296, fixed in 3.12). A publisher woken by the
last emit as :meth:`close` cancelled it then polled on forever and ``close`` never returned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson

from vmcore.application.bus_service.config import BusConfig
from vmcore.application.bus_service.engine import CURSOR, RuleEngine, sorted_rules
from vmcore.application.bus_service.envelope import (
    check_int,
    check_text,
    check_topic,
    parse_envelope,
    wire,
)
from vmcore.application.bus_service.errors import (
    QUEUE_FULL,
    RULES_DISABLED,
    STORAGE_FAILED,
    UNKNOWN_RULE,
    RpcError,
    bad_params,
)
from vmcore.application.bus_service.rules import Rule, parse_rule, rule_body
from vmcore.application.bus_service.storage import StorageThread
from vmcore.application.bus_service.subscriptions import Broadcaster, Subscription
from vmcore.application.bus_service.tools import Tool
from vmcore_event_store.bus_log import MAX_LIMIT, BusLog, LogQuery, NewEvent, StoredEvent

T = TypeVar("T")
_log = logging.getLogger(__name__)
POLL_SECONDS = 0.25
"""How often a durable instance re-reads its log for events other processes stored."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class BusInstance:
    def __init__(self, config: BusConfig, log: BusLog, *, tools: dict[str, Tool] | None = None,
                 now_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.config = config
        self.log = log
        self.now_ms = now_ms
        self._storage = (StorageThread(log, f"bus-{config.id}", self._appended)
                         if log.durable else None)
        self._queue_slots = asyncio.Semaphore(config.queue_size)
        self._queued = 0
        self.broadcaster = Broadcaster(config.subscriber_buffer)
        self._recent: dict[int, StoredEvent] = {}
        self._published = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        poll = POLL_SECONDS if log.durable else None
        self.engine = RuleEngine(
            config.id, read=self.select, append=self.append, fired=self._fired,
            tools=tools or {}, max_concurrency=config.max_concurrency,
            max_depth=config.max_rule_depth, now_ms=now_ms, poll_seconds=poll,
            load_rules=self._load_rules if log.durable else None,
            tool_timeout=config.tool_timeout_ms / 1000)

    async def storage(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._storage is None:
            return function(*args, **kwargs)
        return await self._storage.call(function, *args, **kwargs)

    @property
    def queued(self) -> int:
        """Emits waiting for storage (at most ``queue_size``)."""
        return self._queued

    async def start(self) -> None:
        if self._storage is not None:
            self._storage.start()
        self._published = await self.storage(self.log.last_event_id)
        self.engine.rules = await self._load_rules()
        self._tasks = [asyncio.create_task(self._publisher())]
        if self.config.enable_rules:
            position = await self.storage(self.log.cursor, CURSOR)
            self._tasks.append(asyncio.create_task(self._guard(self.engine.run, position)))

    async def _load_rules(self) -> dict[str, Rule]:
        rules = {}
        for rule_id, body in await self.storage(self.log.rules):
            try:
                rules[rule_id] = parse_rule(orjson.loads(body))
            except RpcError as error:
                _log.error("bus %s: stored rule %s is invalid: %s", self.config.id, rule_id,
                           error.data)
        return rules

    def add_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` (a follower such as the VM bridge) until :meth:`close`."""
        self._tasks.append(asyncio.create_task(coroutine))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.broadcaster.close()
        if self._storage is not None and self._storage.started:
            await self.storage(self.log.close)  # after every emit already queued
            await self._storage.stop()
        else:
            self.log.close()

    async def _guard(self, run: Callable[[int], Any], position: int) -> None:
        while True:
            try:
                await run(position)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("bus %s: rules engine failed; restarting", self.config.id)
                await asyncio.sleep(1)
                position = self.engine.position

    # -- writing ------------------------------------------------------------------------

    async def emit(self, params: Any) -> dict[str, Any]:
        event = parse_envelope(params, allowed_sources=self.config.allowed_sources,
                               now_ms=self.now_ms)
        if self._storage is None:  # the in-memory log appends at once, in order
            appended = self.log.append([event])
            assert appended
            self._appended(appended)
            return {"event_id": appended[0].event_id, "timestamp": appended[0].timestamp}
        slots = self._queue_slots
        if slots.locked():
            try:
                async with asyncio.timeout(self.config.emit_wait_ms / 1000):
                    await slots.acquire()
            except TimeoutError:
                raise RpcError(QUEUE_FULL, "Queue full",
                               f"bus {self.config.id!r}: the emit queue held"
                               f" {self.config.queue_size} events for"
                               f" {self.config.emit_wait_ms} ms; retry later") from None
        else:
            await slots.acquire()  # free: returns at once
        self._queued += 1
        try:
            stored = await self._storage.emit(event)
        except Exception as error:
            raise RpcError(STORAGE_FAILED, "Storage failed", str(error)[:500]) from error
        finally:
            self._queued -= 1
            slots.release()
        return {"event_id": stored.event_id, "timestamp": stored.timestamp}

    async def append(self, events: list[NewEvent], **kwargs: Any) -> list[StoredEvent] | None:
        """Store ``events`` (see :meth:`BusLog.append`) and publish them."""
        stored = await self.storage(self.log.append, events, **kwargs)
        if stored:
            self._appended(stored)
        return stored

    def _appended(self, stored: list[StoredEvent]) -> None:
        for record in stored:
            self._recent[record.event_id] = record
        self._wake.set()

    # -- publishing, in event_id order --------------------------------------------------

    async def _publisher(self) -> None:
        poll = POLL_SECONDS if self.log.durable else None
        while True:
            timed_out = False
            try:
                async with asyncio.timeout(poll):  # not wait_for: see the module docstring
                    await self._wake.wait()
            except TimeoutError:
                timed_out = True
            self._wake.clear()
            try:
                await self._catch_up(read_log=timed_out)
            except Exception:
                _log.exception("bus %s: reading the log failed", self.config.id)

    async def _catch_up(self, read_log: bool) -> None:
        while True:
            run: list[StoredEvent] = []
            while (self._published + 1) in self._recent:
                run.append(self._recent.pop(self._published + 1))
                self._published += 1
            if run:
                self._publish(run)
            if not (self._recent or read_log):
                return
            read_log = False
            batch = await self.select(LogQuery(since=self._published, limit=MAX_LIMIT))
            if batch:
                self._published = batch[-1].event_id
                for record in batch:
                    self._recent.pop(record.event_id, None)
                self._publish(batch)
                read_log = len(batch) == MAX_LIMIT
            elif self._recent:  # ids the log never committed (a rolled-back insert)
                self._published = min(self._recent) - 1
            for stale in [i for i in self._recent if i <= self._published]:
                del self._recent[stale]

    def _publish(self, events: list[StoredEvent]) -> None:
        self.broadcaster.publish(events)
        self.engine.wake()

    # -- reading ------------------------------------------------------------------------

    async def select(self, query: LogQuery) -> list[StoredEvent]:
        return await self.storage(self.log.select, query)

    async def _fired(self, firing: Any) -> bool:
        return await self.storage(self.log.fired, firing)

    async def poll(self, params: Any) -> dict[str, Any]:
        params = _object(params)
        allowed = {"topic", "since", "limit", "source_trn", "target_trn", "correlation_id",
                   "from_ms", "to_ms"}
        _no_unknown(params, allowed)
        query = LogQuery(
            topic=check_topic(params.get("topic", "*"), pattern=True),
            since=check_int(params.get("since"), "since", 0) or 0,
            limit=check_int(params.get("limit"), "limit", 100, 1, MAX_LIMIT) or 100,
            source_trn=check_text(params.get("source_trn"), "source_trn", 512),
            target_trn=check_text(params.get("target_trn"), "target_trn", 512),
            correlation_id=check_text(params.get("correlation_id"), "correlation_id"),
            from_ms=check_int(params.get("from_ms"), "from_ms", None),
            to_ms=check_int(params.get("to_ms"), "to_ms", None))
        events = await self.select(query)
        return {"events": [wire(event) for event in events],
                "next_since": events[-1].event_id if events else query.since}

    async def list_topics(self, params: Any) -> dict[str, Any]:
        _no_unknown(_object(params), set())
        topics = await self.storage(self.log.topics)
        return {"topics": [{"topic": t.topic, "count": t.count, "last_event_id": t.last_event_id}
                           for t in topics]}

    # -- rules ----------------------------------------------------------------------------

    def _rules_enabled(self) -> None:
        if not self.config.enable_rules:
            raise RpcError(RULES_DISABLED, "Rules disabled",
                           f"bus {self.config.id!r} has enable_rules false")

    async def register_rule(self, params: Any) -> dict[str, Any]:
        self._rules_enabled()
        rule = parse_rule(params)
        await self.storage(self.log.put_rule, rule.id, rule_body(rule))
        self.engine.rules[rule.id] = rule
        return {"id": rule.id, "trn": rule.trn(self.config.id)}

    async def list_rules(self, params: Any) -> dict[str, Any]:
        _no_unknown(_object(params), set())
        return {"rules": sorted_rules(list(self.engine.rules.values()))}

    async def delete_rule(self, params: Any) -> dict[str, Any]:
        self._rules_enabled()
        params = _object(params)
        _no_unknown(params, {"id"})
        rule_id = params.get("id")
        if not isinstance(rule_id, str):
            raise bad_params("id must be a string")
        existed = await self.storage(self.log.delete_rule, rule_id)
        if self.engine.rules.pop(rule_id, None) is None and not existed:
            raise RpcError(UNKNOWN_RULE, "Unknown rule", f"no rule {rule_id[:128]!r}")
        return {"deleted": rule_id}

    def rules(self) -> list[Rule]:
        return list(self.engine.rules.values())

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(self, params: Any) -> Subscription:
        params = _object(params)
        _no_unknown(params, {"topic"})
        return self.broadcaster.subscribe(check_topic(params.get("topic", "*"), pattern=True))


def _object(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise bad_params("params must be an object")
    return params


def _no_unknown(params: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise bad_params(f"unknown param(s): {', '.join(map(str, unknown))[:200]}")
