"""``GET /v1/events``: events of every VM, filtered (topic, vm, time, correlation, TRN) and
paged by notification-log position."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from attrs import evolve
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vmcore.application.event_log import LoggedEvent, query_log
from vmcore.application.queries import EventQuery
from vmcore.entrypoints.http.problems import Problem
from vmcore.entrypoints.http.responses import json_response
from vmcore.entrypoints.http.vms import control_plane, int_param
from vmcore.entrypoints.presenters import event_record

MAX_PAGE = 1000


def positioned_record(item: LoggedEvent) -> dict[str, Any]:
    """An event as the API shows it: its log position as ``id``, then the event."""
    return {"id": item.position} | event_record(item.event)


def _time(request: Request, name: str) -> datetime | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Problem(400, f"query parameter {name!r} must be an ISO time with a zone,"
                      f" e.g. 2026-01-01T00:00:00Z; got {text!r}", kind="invalid-parameter")
    return value


def event_query(request: Request) -> EventQuery:
    params = request.query_params
    trn = params.get("trn")
    if trn is not None and not trn.startswith("trn:"):
        raise Problem(400, f"query parameter 'trn' must look like trn:<kind>:<name>,"
                      f" got {trn!r}", kind="invalid-parameter")
    return EventQuery(topic=params.get("topic"), since=_time(request, "since"),
                      until=_time(request, "until"), correlation_id=params.get("correlation"),
                      trn=trn)


async def list_events(request: Request) -> Response:
    query = event_query(request)
    after = int_param(request, "after", default=0) or 0
    limit = int_param(request, "limit", minimum=1, maximum=MAX_PAGE, default=100) or 100
    cp = control_plane(request)
    vm = request.query_params.get("vm")
    if vm is not None:  # a name or id; an unknown one is a 404 like /v1/vms/{vm}
        query = evolve(query, vm_id=await run_in_threadpool(cp.resolve, vm))
    found, following = await run_in_threadpool(query_log, cp, query, after=after, limit=limit)
    return json_response({"events": [positioned_record(item) for item in found],
                          "next": following})


ROUTES = [Route("/v1/events", list_events, methods=["GET"], name="list_events")]
