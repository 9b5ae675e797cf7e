"""A client of the bus service (``vmcore bus serve``): :class:`BusClient` (asyncio) and
:class:`BlockingBusClient` (the same calls, blocking, for scripts and the CLI).

    client = await BusClient.connect("tcp://127.0.0.1:4010")
    await client.emit("vm.note", {"text": "hi"}, source_trn="trn:user:alice")
    page = await client.poll("vm.*", since=0)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

T = TypeVar("T")
_LIMIT = 64 << 20


class BusRpcError(Exception):
    """An error answer from the service."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} ({code}): {data}" if data is not None else
                         f"{message} ({code})")
        self.code = code
        self.message = message
        self.data = data


def parse_url(url: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` → (host, port); ValueError naming the problem."""
    parts = urlsplit(url)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise ValueError(f"expected a URL like tcp://127.0.0.1:4010, got {url!r}")
    return parts.hostname, parts.port


class ClientSubscription:
    """Events pushed for one ``subscribe_topic``; iteration ends when the server drops it
    (:attr:`dropped_reason`) or the connection closes."""

    def __init__(self, client: BusClient, subscription_id: str) -> None:
        self.id = subscription_id
        self.dropped_reason: str | None = None
        self._client = client
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        while (event := await self._queue.get()) is not None:
            yield event

    async def next(self) -> dict[str, Any] | None:
        return await self._queue.get()

    async def unsubscribe(self) -> None:
        await self._client.call("unsubscribe_topic", {"subscription_id": self.id})
        self._client._subscriptions.pop(self.id, None)
        self._queue.put_nowait(None)


class BusClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._subscriptions: dict[str, ClientSubscription] = {}
        self._early: dict[str, list[dict[str, Any]]] = {}
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str) -> BusClient:
        host, port = parse_url(url)
        reader, writer = await asyncio.open_connection(host, port, limit=_LIMIT)
        return cls(reader, writer)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
        if params is not None:
            message["params"] = params
        self._writer.write(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
        await self._writer.drain()
        return await future

    async def emit(self, topic: str, payload: Any, **envelope: Any) -> dict[str, Any]:
        """``envelope``: timestamp, metadata, source_trn, target_trn, correlation_id."""
        result: dict[str, Any] = await self.call(
            "emit_event", {"topic": topic, "payload": payload, **envelope})
        return result

    async def poll(self, topic: str = "*", since: int = 0, limit: int = 100,
                   **filters: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "poll_events", {"topic": topic, "since": since, "limit": limit, **filters})
        return result

    async def topics(self) -> list[dict[str, Any]]:
        return list((await self.call("list_topics", {}))["topics"])

    async def register_rule(self, rule: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("register_rule", rule)
        return result

    async def list_rules(self) -> list[dict[str, Any]]:
        return list((await self.call("list_rules", {}))["rules"])

    async def delete_rule(self, rule_id: str) -> None:
        await self.call("delete_rule", {"id": rule_id})

    async def subscribe(self, topic: str) -> ClientSubscription:
        result = await self.call("subscribe_topic", {"topic": topic})
        subscription = ClientSubscription(self, result["subscription_id"])
        self._subscriptions[subscription.id] = subscription
        for event in self._early.pop(subscription.id, []):
            subscription._queue.put_nowait(event)
        return subscription

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
        self._task.cancel()

    async def _read(self) -> None:
        error: BaseException = ConnectionResetError("the bus service closed the connection")
        try:
            while line := await self._reader.readline():
                self._dispatch(orjson.loads(line))
        except (ConnectionError, OSError, orjson.JSONDecodeError) as failure:
            error = failure
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            for subscription in self._subscriptions.values():
                subscription._queue.put_nowait(None)

    def _dispatch(self, message: Any) -> None:
        for item in message if isinstance(message, list) else [message]:
            method = item.get("method")
            if method == "event":
                params = item["params"]
                subscription = self._subscriptions.get(params["subscription_id"])
                if subscription is not None:
                    subscription._queue.put_nowait(params["event"])
                else:  # pushed before our subscribe call returned
                    self._early.setdefault(params["subscription_id"], []).append(
                        params["event"])
            elif method == "subscription_dropped":
                subscription = self._subscriptions.pop(item["params"]["subscription_id"], None)
                if subscription is not None:
                    subscription.dropped_reason = item["params"].get("reason")
                    subscription._queue.put_nowait(None)
            else:
                future = self._pending.pop(item.get("id"), None)
                if future is None or future.done():
                    continue
                if "error" in item:
                    error = item["error"]
                    future.set_exception(BusRpcError(error.get("code", 0),
                                                     error.get("message", ""),
                                                     error.get("data")))
                else:
                    future.set_result(item.get("result"))


class BlockingBusClient:
    """:class:`BusClient` on a private event loop thread; every call blocks for its answer."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="bus-client")
        self._thread.start()
        try:
            self._client = self._run(BusClient.connect(url))
        except BaseException:
            self._stop()
            raise

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(self.timeout)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self._run(self._client.call(method, params))

    def emit(self, topic: str, payload: Any, **envelope: Any) -> dict[str, Any]:
        return self._run(self._client.emit(topic, payload, **envelope))

    def poll(self, topic: str = "*", since: int = 0, limit: int = 100,
             **filters: Any) -> dict[str, Any]:
        return self._run(self._client.poll(topic, since, limit, **filters))

    def topics(self) -> list[dict[str, Any]]:
        return self._run(self._client.topics())

    def register_rule(self, rule: dict[str, Any]) -> dict[str, Any]:
        return self._run(self._client.register_rule(rule))

    def list_rules(self) -> list[dict[str, Any]]:
        return self._run(self._client.list_rules())

    def delete_rule(self, rule_id: str) -> None:
        self._run(self._client.delete_rule(rule_id))

    def subscribe(self, topic: str, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Subscribes now, before returning, so every event stored from here on is pushed;
        then iterate for the pushed events as they come (each waits at most ``timeout``
        seconds, None = ever).

        Not a generator function: a generator would send ``subscribe_topic`` only at the
        first ``next()``, and miss every event emitted in between."""
        subscription = self._run(self._client.subscribe(topic))
        return self._pushed(subscription, timeout)

    def _pushed(self, subscription: ClientSubscription,
                timeout: float | None) -> Iterator[dict[str, Any]]:
        while True:
            future = asyncio.run_coroutine_threadsafe(subscription.next(), self._loop)
            event = future.result(timeout)
            if event is None:
                return
            yield event

    def close(self) -> None:
        try:
            self._run(self._client.close())
        finally:
            self._stop()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> BlockingBusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
