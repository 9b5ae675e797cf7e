"""``GET /v1/services`` (each domain service's state, breaker and counts) and
``POST /v1/services/{name}/restart``, over the ServiceManager's :class:`ServicesApi`."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vmcore.application.services.api import ServicesApi
from vmcore.application.services.manager import UnknownService
from vmcore.entrypoints.http.problems import Problem
from vmcore.entrypoints.http.responses import json_response


def _api(request: Request) -> ServicesApi:
    api: ServicesApi | None = request.app.state.services
    if api is None:
        raise Problem(503, "this server runs no domain services", kind="not-ready")
    return api


async def list_services(request: Request) -> Response:
    return json_response({"services": await run_in_threadpool(_api(request).list_services)})


async def restart_service(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        return json_response(await run_in_threadpool(_api(request).restart, name))
    except UnknownService:
        raise Problem(404, f"no domain service named {name!r}", kind="not-found") from None


ROUTES = [
    Route("/v1/services", list_services, methods=["GET"], name="list_services"),
    Route("/v1/services/{name}/restart", restart_service, methods=["POST"],
          name="restart_service"),
]
