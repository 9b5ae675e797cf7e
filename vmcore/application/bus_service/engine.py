"""The rules engine: follows the instance's log from a durable cursor and fires each
matching rule once per event (a firing row is stored with what the rule derived, in one
transaction, so a restart or a second process never fires it again). Rule executions run at
most ``max_concurrency`` at a time; chains deeper than ``max_rule_depth`` go to the
dead-letter topic. A tool runs before its result is stored: after a crash in between, a tool
may run again (at least once); events a rule emits are stored exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

from vmcore.application.bus_service.envelope import RESERVED_METADATA, decoded
from vmcore.application.bus_service.rules import EmitEvent, Rule
from vmcore.application.bus_service.tools import Tool
from vmcore_event_store.bus_log import Firing, LogQuery, NewEvent, StoredEvent

DEAD_LETTER_TOPIC = "bus.dead_letter"
TOOL_RESULT_TOPIC = "bus.tool.result"
TOOL_ERROR_TOPIC = "bus.tool.error"
CURSOR = "rules"
_PAGE = 500
_log = logging.getLogger(__name__)

Reader = Callable[[LogQuery], Awaitable[list[StoredEvent]]]
Appender = Callable[..., Awaitable[list[StoredEvent] | None]]


def depth_of(event: StoredEvent) -> int:
    if event.metadata is None or RESERVED_METADATA not in event.metadata:
        return 0
    meta = orjson.loads(event.metadata).get(RESERVED_METADATA)
    depth = meta.get("depth") if isinstance(meta, dict) else None
    return depth if type(depth) is int else 0


class RuleEngine:
    def __init__(self, bus_id: str, *, read: Reader, append: Appender,
                 fired: Callable[[Firing], Awaitable[bool]], tools: dict[str, Tool],
                 max_concurrency: int, max_depth: int, now_ms: Callable[[], int],
                 poll_seconds: float | None, tool_timeout: float = 30.0,
                 load_rules: Callable[[], Awaitable[dict[str, Rule]]] | None = None) -> None:
        """``load_rules``, when given, re-reads the rules whenever the engine is idle (rules
        another process sharing the log registered)."""
        self.bus_id = bus_id
        self.rules: dict[str, Rule] = {}
        self._read = read
        self._append = append
        self._fired = fired
        self._tools = tools
        self._slots = asyncio.Semaphore(max_concurrency)
        self._max_depth = max_depth
        self._now_ms = now_ms
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self.position = 0
        self._load_rules = load_rules
        self._tool_timeout = tool_timeout

    def wake(self) -> None:
        self._wake.set()

    async def run(self, position: int) -> None:
        self.position = position
        saved = position
        while True:
            batch = await self._read(LogQuery(since=self.position, limit=_PAGE))
            if not batch:
                if saved != self.position:
                    await self._append([], cursor=(CURSOR, self.position))
                    saved = self.position
                await self._sleep()
                if self._load_rules is not None:
                    self.rules = await self._load_rules()
                continue
            tasks = [self._fire(rule, event, depth)
                     for event in batch if (depth := depth_of(event)) <= self._max_depth
                     for rule in list(self.rules.values()) if rule.matches(event)]
            if tasks:
                await asyncio.gather(*tasks)
            self.position = batch[-1].event_id
            if tasks or self.position - saved >= 10 * _PAGE:
                await self._append([], cursor=(CURSOR, self.position))
                saved = self.position

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):  # not wait_for: it can drop a cancel on 3.11
            async with asyncio.timeout(self._poll_seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _fire(self, rule: Rule, event: StoredEvent, depth: int) -> None:
        firing = Firing(rule.id, event.event_id)
        async with self._slots:
            if await self._fired(firing):
                return
            try:
                derived = await self._derive(rule, event, depth + 1)
            except Exception as error:  # a rule must never stop the engine
                _log.exception("rule %s on event %s", rule.id, event.event_id)
                derived = self._event(rule, event, depth + 1, TOOL_ERROR_TOPIC,
                                      {"rule_id": rule.id, "error": repr(error)[:1000]})
            await self._append([derived], firing=firing)

    async def _derive(self, rule: Rule, event: StoredEvent, depth: int) -> NewEvent:
        action = rule.action
        if depth > self._max_depth:
            return self._event(rule, event, depth, DEAD_LETTER_TOPIC, {
                "rule_id": rule.id, "trigger_event_id": event.event_id,
                "trigger_topic": event.topic, "action": rule.to_json()["action"],
                "reason": f"rule chain deeper than {self._max_depth}"})
        if isinstance(action, EmitEvent):
            return self._event(rule, event, depth, action.topic, action.payload,
                               target=event.target_trn)
        tool = self._tools.get(action.tool_id)
        report: dict[str, Any] = {"tool_id": action.tool_id, "rule_id": rule.id,
                                  "trigger_event_id": event.event_id}
        if tool is None:
            return self._event(rule, event, depth, TOOL_ERROR_TOPIC,
                               report | {"error": f"no tool {action.tool_id!r} is installed"},
                               target=action.tool_id)
        try:
            async with asyncio.timeout(self._tool_timeout):
                result = await asyncio.to_thread(tool, action.input, decoded(event))
            orjson.dumps(result)
        except TimeoutError:
            return self._event(rule, event, depth, TOOL_ERROR_TOPIC,
                               report | {"error": f"no answer in {self._tool_timeout} s"},
                               target=action.tool_id)
        except Exception as error:
            return self._event(rule, event, depth, TOOL_ERROR_TOPIC,
                               report | {"error": f"{type(error).__name__}: {error}"[:1000]},
                               target=action.tool_id)
        return self._event(rule, event, depth, TOOL_RESULT_TOPIC, report | {"result": result},
                           target=action.tool_id)

    def _event(self, rule: Rule, trigger: StoredEvent, depth: int, topic: str, payload: Any,
               target: str | None = None) -> NewEvent:
        meta = {RESERVED_METADATA: {"rule_id": rule.id, "trigger_event_id": trigger.event_id,
                                    "depth": depth}}
        return NewEvent(
            topic=topic, payload=orjson.dumps(payload).decode(), timestamp=self._now_ms(),
            metadata=orjson.dumps(meta).decode(), source_trn=rule.trn(self.bus_id),
            target_trn=target,
            correlation_id=trigger.correlation_id or f"{self.bus_id}:{trigger.event_id}")


def sorted_rules(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    return [rule.to_json() for rule in sorted(rules, key=lambda r: r.id)]
