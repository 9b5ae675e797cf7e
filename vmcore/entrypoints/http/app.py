"""The ASGI application: routes, the guard (token, rate limit), metrics, problem answers,
and the lifespan that starts and stops the log tailer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

from attrs import frozen
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from vmcore.application.control_plane import ControlPlane
from vmcore.application.errors import VmcoreError
from vmcore.application.event_log import head_position
from vmcore.application.services.api import ServicesApi
from vmcore.bus import UnifiedEventBus
from vmcore.domain import DomainError
from vmcore.entrypoints.http import events, services, streams, vms
from vmcore.entrypoints.http.guard import Guard
from vmcore.entrypoints.http.known_head import KnownHead
from vmcore.entrypoints.http.live import Hub, Tailer
from vmcore.entrypoints.http.metrics import MetricsMiddleware, ServiceMetrics
from vmcore.entrypoints.http.openapi import openapi_endpoint
from vmcore.entrypoints.http.problems import Problem, from_error, from_problem, problem_response
from vmcore.entrypoints.http.ratelimit import RateLimiter
from vmcore.entrypoints.http.responses import json_response

log = logging.getLogger("vmcore.serve")
READY_TIMEOUT = 5.0


@frozen
class ServeSettings:
    token: str | None = None
    rate: float = 50.0
    burst: int = 100
    heartbeat: float = 15.0
    backlog: int = 1000


def dashboard_page() -> str:
    return files("vmcore.entrypoints.http").joinpath("dashboard.html").read_text()


async def dashboard(request: Request) -> Response:
    return HTMLResponse(request.app.state.dashboard,
                        headers={"Content-Security-Policy": "default-src 'self';"
                                 " script-src 'unsafe-inline'; style-src 'unsafe-inline'",
                                 "Cache-Control": "no-store"})


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    state = request.app.state
    try:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can drop a cancel (gh-86296)
        async with asyncio.timeout(READY_TIMEOUT):
            position = await run_in_threadpool(head_position, state.control_plane)
    except TimeoutError:
        return problem_response(503, f"store unreachable: no answer in {READY_TIMEOUT} s",
                                kind="not-ready")
    except Exception as error:
        return problem_response(503, f"store unreachable: {error}".splitlines()[0],
                                kind="not-ready")
    if state.tailer is not None and state.tailer.error is not None:
        return problem_response(503, f"log tailer stopped: {state.tailer.error}",
                                kind="not-ready")
    return json_response({"status": "ready", "position": position})


async def _on_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, Problem)
    return from_problem(error, request.url.path)


async def _on_use_case_error(request: Request, error: Exception) -> Response:
    problem = from_error(error)
    if problem is None:
        raise error
    return from_problem(problem, request.url.path)


async def _on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    detail = {404: f"no route {request.url.path!r}",
              405: f"{request.method} is not allowed on {request.url.path!r}"}.get(
        error.status_code, str(error.detail))
    return problem_response(error.status_code, detail, instance=request.url.path,
                            headers=dict(error.headers or {}))


async def _on_bug(request: Request, error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal error (logged on the server)",
                            instance=request.url.path)


def create_app(control_plane: ControlPlane, bus: UnifiedEventBus,
               settings: ServeSettings | None = None,
               services_api: ServicesApi | None = None) -> Starlette:
    """``services_api``: the ServiceManager behind ``/v1/services`` (503 without one)."""
    settings = settings or ServeSettings()
    hub = Hub(settings.backlog)
    known_head = KnownHead()
    known_head.watch_commits(control_plane.recorder)
    metrics = ServiceMetrics(control_plane, hub, bus)
    routes: list[BaseRoute] = [
        Route("/", dashboard, methods=["GET"], name="dashboard"),
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        Route("/readyz", readyz, methods=["GET"], name="readyz"),
        Route("/metrics", metrics.endpoint, methods=["GET"], name="metrics"),
        Route("/openapi.json", openapi_endpoint, methods=["GET"], name="openapi"),
        *vms.ROUTES, *streams.ROUTES, *events.ROUTES, *services.ROUTES,
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        start = await run_in_threadpool(head_position, control_plane)
        known_head.advance(start)
        tailer = Tailer(control_plane, hub, asyncio.get_running_loop(), start,
                        on_position=known_head.advance)
        app.state.tailer = tailer
        tailer.start()
        try:
            yield
        finally:
            hub.close()
            await run_in_threadpool(tailer.stop)

    limiter = RateLimiter(settings.rate, settings.burst) if settings.rate > 0 else None
    handlers: dict[Any, Any] = {Problem: _on_problem, VmcoreError: _on_use_case_error,
                                DomainError: _on_use_case_error, HTTPException: _on_http_error,
                                Exception: _on_bug}
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers=handlers,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics, routes=routes),
                    Middleware(Guard, token=settings.token, limiter=limiter)],
    )
    app.state.control_plane = control_plane
    app.state.hub = hub
    app.state.known_head = known_head
    app.state.settings = settings
    app.state.services = services_api
    app.state.tailer = None
    app.state.dashboard = dashboard_page()
    return app
