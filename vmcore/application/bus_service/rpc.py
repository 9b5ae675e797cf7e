"""JSON-RPC 2.0 for a bus instance: one message (a request, a notification or a batch) in,
the answer bytes out (``None`` when nothing is owed). Nothing a client sends raises here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from vmcore.application.bus_service.envelope import wire
from vmcore.application.bus_service.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    UNKNOWN_SUBSCRIPTION,
    RpcError,
    bad_params,
)
from vmcore.application.bus_service.instance import BusInstance
from vmcore.application.bus_service.subscriptions import Subscription
from vmcore_event_store.bus_log import StoredEvent

MAX_BATCH = 1000
_log = logging.getLogger(__name__)
Method = Callable[["Session", Any], Awaitable[Any]]


class Session:
    """One client connection: its subscriptions; ``start_push`` is given each new one."""

    def __init__(self, instance: BusInstance,
                 start_push: Callable[[Subscription], None]) -> None:
        self.instance = instance
        self.subscriptions: dict[str, Subscription] = {}
        self._start_push = start_push

    async def subscribe(self, params: Any) -> dict[str, Any]:
        subscription = self.instance.subscribe(params)
        self.subscriptions[subscription.id] = subscription
        self._start_push(subscription)
        return {"subscription_id": subscription.id}

    async def unsubscribe(self, params: Any) -> dict[str, Any]:
        subscription_id = params.get("subscription_id") if isinstance(params, dict) else None
        if not isinstance(subscription_id, str):
            raise bad_params("subscription_id must be a string")
        if self.subscriptions.pop(subscription_id, None) is None:
            raise RpcError(UNKNOWN_SUBSCRIPTION, "Unknown subscription",
                           f"this connection has no subscription {subscription_id[:64]!r}")
        self.instance.broadcaster.unsubscribe(subscription_id)
        return {"unsubscribed": subscription_id}

    def close(self) -> None:
        for subscription_id in list(self.subscriptions):
            self.instance.broadcaster.unsubscribe(subscription_id)
        self.subscriptions.clear()


METHODS: dict[str, Method] = {
    "emit_event": lambda s, p: s.instance.emit(p),
    "poll_events": lambda s, p: s.instance.poll(p),
    "list_topics": lambda s, p: s.instance.list_topics(p),
    "register_rule": lambda s, p: s.instance.register_rule(p),
    "list_rules": lambda s, p: s.instance.list_rules(p),
    "delete_rule": lambda s, p: s.instance.delete_rule(p),
    "subscribe_topic": lambda s, p: s.subscribe(p),
    "unsubscribe_topic": lambda s, p: s.unsubscribe(p),
}


def error_line(code: int, message: str, data: Any = None, request_id: Any = None) -> bytes:
    return _dumps({"jsonrpc": "2.0", "error": RpcError(code, message, data).to_json(),
                   "id": request_id})


def event_line(subscription: Subscription, event: StoredEvent) -> bytes:
    return _dumps({"jsonrpc": "2.0", "method": "event",
                   "params": {"subscription_id": subscription.id, "event": wire(event)}})


def dropped_line(subscription: Subscription) -> bytes:
    return _dumps({"jsonrpc": "2.0", "method": "subscription_dropped",
                   "params": {"subscription_id": subscription.id,
                              "reason": subscription.dropped_reason}})


async def handle_message(session: Session, raw: bytes) -> bytes | None:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return error_line(PARSE_ERROR, "Parse error", str(error)[:200])
    if isinstance(message, list):
        if not message:
            return error_line(INVALID_REQUEST, "Invalid Request", "empty batch")
        if len(message) > MAX_BATCH:
            return error_line(INVALID_REQUEST, "Invalid Request",
                              f"a batch holds at most {MAX_BATCH} requests")
        # run together, so a batch of emits shares one commit; answers keep the batch order
        results = await asyncio.gather(*(_handle_one(session, item) for item in message))
        answers = [answer for answer in results if answer is not None]
        return _dumps(answers) if answers else None
    answer = await _handle_one(session, message)
    return None if answer is None else _dumps(answer)


async def _handle_one(session: Session, request: Any) -> dict[str, Any] | None:
    if not isinstance(request, dict):
        return _error(RpcError(INVALID_REQUEST, "Invalid Request", "expected an object"), None)
    request_id = request.get("id")
    if not (request_id is None or type(request_id) in (str, int, float)):
        return _error(RpcError(INVALID_REQUEST, "Invalid Request",
                               "id must be a string, a number or null"), None)
    method = request.get("method")
    if (request.get("jsonrpc") != "2.0" or not isinstance(method, str)
            or not set(request) <= {"jsonrpc", "method", "params", "id"}):
        return _error(RpcError(INVALID_REQUEST, "Invalid Request",
                               'expected {"jsonrpc": "2.0", "method", "params"?, "id"?}'),
                      request_id)
    notification = "id" not in request
    params = request.get("params")
    try:
        if params is not None and not isinstance(params, dict | list):
            raise RpcError(INVALID_REQUEST, "Invalid Request", "params must be an object")
        if isinstance(params, list):
            raise bad_params("params must be an object (by name), not an array")
        call = METHODS.get(method)
        if call is None:
            raise RpcError(METHOD_NOT_FOUND, "Method not found",
                           f"no method {method[:64]!r}; methods: {', '.join(METHODS)}")
        result = await call(session, params)
    except RpcError as error:
        return None if notification else _error(error, request_id)
    except Exception as error:
        _log.exception("method %s failed", method[:64])
        return None if notification else _error(
            RpcError(INTERNAL_ERROR, "Internal error", type(error).__name__), request_id)
    return None if notification else {"jsonrpc": "2.0", "result": result, "id": request_id}


def _error(error: RpcError, request_id: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": error.to_json(), "id": request_id}


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
