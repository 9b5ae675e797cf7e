"""``/metrics``: Prometheus text from prometheus-client.

HTTP requests and latency by route template, store append latency (the recorder's
``insert_events`` timed), VMs per state and connected stream clients (read at scrape time),
and the bus's own statistics (:class:`vmcore.bus.prometheus.BusCollector`).
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vmcore.application import ControlPlane
from vmcore.bus import UnifiedEventBus
from vmcore.bus.prometheus import BusCollector
from vmcore.domain import VmState
from vmcore.entrypoints.http.live import Hub


class ServiceCollector(Collector):
    """Gauges read when scraped: VMs per state, stream clients, slow clients cut off."""

    def __init__(self, application: ControlPlane, hub: Hub) -> None:
        self.application = application
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        states = Tally(vm.state.value for vm in self.application.list_vms(include_deleted=True))
        vms = GaugeMetricFamily("vmcore_vms", "VMs per lifecycle state", labels=["state"])
        for state in VmState:
            vms.add_metric([state.value], states.get(state.value, 0))
        yield vms
        yield GaugeMetricFamily("vmcore_stream_clients", "Connected SSE/WebSocket clients",
                                value=len(self.hub.subscribers))
        yield GaugeMetricFamily("vmcore_stream_slow_disconnects_total",
                                "Stream clients cut off for falling behind",
                                value=self.hub.disconnected_slow)


class ServiceMetrics:
    def __init__(self, application: ControlPlane, hub: Hub, bus: UnifiedEventBus) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("vmcore_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("vmcore_http_request_duration_seconds",
                                 "Time to answer an HTTP request (streams: to first byte)",
                                 ["method", "route"], registry=self.registry)
        self.append_latency = Histogram("vmcore_store_append_duration_seconds",
                                        "Time to durably append a command's events",
                                        registry=self.registry)
        self.registry.register(ServiceCollector(application, hub))
        self.registry.register(BusCollector(bus))
        _time_appends(application.recorder, self.append_latency)

    async def endpoint(self, request: Request) -> Response:
        text = await run_in_threadpool(generate_latest, self.registry)
        services = request.app.state.services
        if services is not None:  # the domain services' own figures (breakers, latency ...)
            text += await run_in_threadpool(generate_latest, services.manager.registry)
        return Response(text, media_type=CONTENT_TYPE_LATEST)


def _time_appends(recorder: Any, histogram: Histogram) -> None:
    insert: Callable[..., Any] = recorder.insert_events

    def timed(*args: Any, **kwargs: Any) -> Any:
        with histogram.time():
            return insert(*args, **kwargs)
    recorder.insert_events = timed


def route_template(routes: list[BaseRoute], scope: Scope) -> str:
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return str(getattr(route, "path", "other"))
    return "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics,
                 routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                route = route_template(self.routes, scope)
                self.metrics.latency.labels(scope["method"], route).observe(
                    time.perf_counter() - started)
                self.metrics.requests.labels(scope["method"], route, str(status[0])).inc()
            await send(message)

        await self.app(scope, receive, sending)
