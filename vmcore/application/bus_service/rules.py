"""EventTriggerRule (seed 002): which events a rule reacts to, and what it does.

``match_fields`` keys without ``$`` compare top-level payload fields; keys starting with
``$`` are RFC 9535 JSONPath queries over the whole envelope (``jsonpath-rfc9535``, the
reference-conformant implementation): the rule matches when a selected node equals the value.
The action is serialised like seed 002's Rust enum: ``{"EmitEvent": {"topic", "payload"}}``
or ``{"InvokeTool": {"tool_id", "input"}}``.
"""

from __future__ import annotations

import re
from typing import Any

import jsonpath_rfc9535
import orjson
from attrs import field, frozen

from vmcore.application.bus_service.envelope import check_topic, decoded
from vmcore.application.bus_service.errors import bad_params
from vmcore.domain.errors import InvalidValue
from vmcore.domain.trn import Trn
from vmcore_event_store.bus_log import StoredEvent, topic_selected

_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_RULE_FIELDS = {"id", "topic", "match_fields", "target_trn", "action"}


@frozen
class EmitEvent:
    topic: str
    payload: Any


@frozen
class InvokeTool:
    tool_id: str
    input: Any


@frozen(eq=False)
class Rule:
    id: str
    topic: str
    match_fields: dict[str, Any]
    action: EmitEvent | InvokeTool
    target_trn: str | None = None
    _queries: dict[str, Any] = field(factory=dict, repr=False)

    def trn(self, bus_id: str) -> str:
        """The rule's own identity: the source of every event it derives."""
        return f"trn:bus:{bus_id}:rule:{self.id}"

    def to_json(self) -> dict[str, Any]:
        action: dict[str, Any]
        if isinstance(self.action, EmitEvent):
            action = {"EmitEvent": {"topic": self.action.topic, "payload": self.action.payload}}
        else:
            action = {"InvokeTool": {"tool_id": self.action.tool_id,
                                     "input": self.action.input}}
        body: dict[str, Any] = {"id": self.id, "topic": self.topic,
                                "match_fields": self.match_fields, "action": action}
        if self.target_trn is not None:
            body["target_trn"] = self.target_trn
        return body

    def matches(self, event: StoredEvent) -> bool:
        if not topic_selected(self.topic, event.topic):
            return False
        if self.target_trn is not None and (
                event.target_trn is None or not _trn_matches(event.target_trn, self.target_trn)):
            return False
        if not self.match_fields:
            return True
        envelope = decoded(event)
        payload = envelope["payload"]
        for key, wanted in self.match_fields.items():
            if key.startswith("$"):
                values = self._queries[key].find(envelope).values()
                if not any(json_equal(value, wanted) for value in values):
                    return False
            elif not (isinstance(payload, dict) and key in payload
                      and json_equal(payload[key], wanted)):
                return False
        return True


def parse_rule(params: Any) -> Rule:
    """A rule from ``register_rule``'s params (or storage); :class:`RpcError` when bad."""
    if not isinstance(params, dict):
        raise bad_params("params must be an EventTriggerRule object")
    unknown = sorted(set(params) - _RULE_FIELDS)
    if unknown:
        raise bad_params(f"unknown rule field(s): {', '.join(map(str, unknown))[:200]}")
    rule_id = params.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        raise bad_params("id must be 1-128 letters, digits, '.', '_', '@', '-'")
    topic = check_topic(params.get("topic"), pattern=True)
    match_fields = params.get("match_fields") or {}
    if not isinstance(match_fields, dict):
        raise bad_params("match_fields must be an object")
    queries = {}
    for key in match_fields:
        if key.startswith("$"):
            try:
                queries[key] = jsonpath_rfc9535.compile(key)
            except jsonpath_rfc9535.JSONPathError as error:
                raise bad_params(f"match_fields key {key[:100]!r} is not RFC 9535 JSONPath:"
                                 f" {str(error).splitlines()[0][:200]}") from None
    target = params.get("target_trn")
    if target is not None and (not isinstance(target, str) or not target.startswith("trn:")):
        raise bad_params("target_trn must be a TRN pattern such as 'trn:vm:*' or null")
    return Rule(rule_id, topic, match_fields, _parse_action(params.get("action")), target,
                queries)


def _parse_action(action: Any) -> EmitEvent | InvokeTool:
    if not isinstance(action, dict) or len(action) != 1:
        raise bad_params('action must be {"EmitEvent": {"topic", "payload"}} or'
                         ' {"InvokeTool": {"tool_id", "input"}}')
    (kind, body), = action.items()
    if not isinstance(body, dict):
        raise bad_params(f"action {str(kind)[:40]!r} needs an object")
    if kind == "EmitEvent" and set(body) <= {"topic", "payload"}:
        return EmitEvent(check_topic(body.get("topic"), field="action topic"),
                         body.get("payload"))
    if kind == "InvokeTool" and set(body) <= {"tool_id", "input"}:
        tool_id = body.get("tool_id")
        try:
            Trn.parse(tool_id if isinstance(tool_id, str) else "")
        except InvalidValue:
            raise bad_params("InvokeTool tool_id must be a TRN") from None
        return InvokeTool(str(tool_id), body.get("input"))
    raise bad_params('action must be {"EmitEvent": {"topic", "payload"}} or'
                     ' {"InvokeTool": {"tool_id", "input"}}')


def json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values (``true`` is not ``1``)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(v, right[k])
                                                   for k, v in left.items())
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return bool(left == right) and (isinstance(left, int | float) == isinstance(right,
                                                                               int | float))


def _trn_matches(value: str, pattern: str) -> bool:
    try:
        return Trn.parse(value).matches(pattern)
    except InvalidValue:
        return False


def rule_body(rule: Rule) -> str:
    return orjson.dumps(rule.to_json()).decode()
