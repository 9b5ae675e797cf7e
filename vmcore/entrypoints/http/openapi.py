"""``/openapi.json``: the API described in OpenAPI 3.1 (a test checks it against the routes).

Request-body schemas come from the same pydantic models that validate the bodies.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from vmcore.entrypoints.http.bodies import CreateVm
from vmcore.entrypoints.http.responses import json_response
from vmcore.entrypoints.http.vms import COMMANDS

PROBLEM = {"description": "problem details (RFC 9457)",
           "content": {"application/problem+json": {"schema": {"$ref":
                                                               "#/components/schemas/Problem"}}}}
JSON = {"application/json": {"schema": {"type": "object"}}}


def _param(name: str, where: str, description: str, kind: str = "string",
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": {"type": kind}}


REF = _param("ref", "path", "VM name or id")
CORRELATION = _param("X-Correlation-ID", "header", "groups the request's events (echoed)")
FILTERS = [_param("topic", "query", "bus-topic pattern, e.g. vm.* or vm.started"),
           _param("vm", "query", "only this VM (name or id)")]


def _operation(summary: str, responses: dict[str, str], *, parameters: list[Any] | None = None,
               body: dict[str, Any] | None = None, secured: bool = True) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "parameters": parameters or []}
    operation["responses"] = {code: ({"description": text, "content": JSON}
                                     if code.startswith("2") else PROBLEM | {"description": text})
                              for code, text in responses.items()}
    if body is not None:
        operation["requestBody"] = {"required": False,
                                    "content": {"application/json": {"schema": body}}}
    operation["security"] = [{"bearer": []}] if secured else []
    return operation


def _command_body() -> dict[str, Any]:
    variants = {name: model.model_json_schema() for name, (model, _) in COMMANDS.items()}
    return {"description": "arguments of the command named in the path: "
            + "; ".join(f"{name}: {sorted(schema.get('properties', {})) or 'none'}"
                        for name, schema in variants.items()),
            "oneOf": list({str(s): s for s in variants.values()}.values())}


def document() -> dict[str, Any]:
    errors = {"401": "missing or wrong token", "429": "rate limited (see Retry-After)"}
    paths: dict[str, Any] = {
        "/v1/vms": {
            "get": _operation("every VM (?all=true: deleted ones too)", {"200": "VM summaries"}
                              | errors, parameters=[_param("all", "query", "include deleted",
                                                           "boolean")]),
            "post": _operation("create a VM", {"201": "the VM", "400": "malformed JSON",
                                               "409": "name taken", "413": "body over 1 MiB",
                                               "422": "invalid field"} | errors,
                               parameters=[CORRELATION], body=CreateVm.model_json_schema()),
        },
        "/v1/vms/{ref}": {"get": _operation(
            "one VM, now or at ?version=N", {"200": "the VM (ETag: its version)",
                                             "404": "no such VM or version"} | errors,
            parameters=[REF, _param("version", "query", "a past version", "integer")])},
        "/v1/vms/{ref}/events": {"get": _operation(
            "the VM's history", {"200": "its events, oldest first", "404": "no such VM"}
            | errors, parameters=[REF])},
        "/v1/vms/{ref}/{command}": {"post": _operation(
            f"run a command: {', '.join(COMMANDS)}",
            {"200": "the VM after the command", "404": "no such VM or command",
             "409": "the lifecycle refuses it", "412": "If-Match version is stale",
             "422": "invalid arguments"} | errors,
            parameters=[REF, _param("command", "path", "the command"),
                        _param("If-Match", "header", "the version the command is meant for"),
                        CORRELATION],
            body=_command_body())},
        "/v1/events": {"get": _operation(
            "events of every VM, paged by log position",
            {"200": "{events: [...], next: position or null}", "400": "bad parameter"} | errors,
            parameters=[_param("topic", "query", "bus-topic pattern"),
                        _param("vm", "query", "one VM's events (name or id)"),
                        _param("trn", "query", "actor/source/target TRN pattern"),
                        _param("since", "query", "ISO time"), _param("until", "query", "ISO time"),
                        _param("correlation", "query", "correlation id"),
                        _param("after", "query", "position to page from", "integer"),
                        _param("limit", "query", "page size (1-1000)", "integer")])},
        "/v1/events/stream": {"get": _operation(
            "Server-Sent Events; id: = log position", {"200": "text/event-stream"} | errors,
            parameters=[*FILTERS, _param("Last-Event-ID", "header", "resume after this id"),
                        _param("after", "query", "resume after this id", "integer"),
                        _param("access_token", "query", "the token, for browsers")])},
        "/v1/events/ws": {"get": _operation(
            "WebSocket (upgrade): one JSON message per event", {"101": "switching protocols"},
            parameters=[*FILTERS, _param("after", "query", "resume after this id", "integer"),
                        _param("access_token", "query", "the token, for browsers")])},
        "/v1/services": {"get": _operation(
            "domain services: state, breaker, counts", {"200": "{services: [...]}",
                                                        "503": "no services"} | errors)},
        "/v1/services/{name}/restart": {"post": _operation(
            "restart a domain service", {"200": "its status after the restart",
                                         "404": "no such service"} | errors,
            parameters=[_param("name", "path", "the service's name")])},
        "/healthz": {"get": _operation("alive", {"200": "ok"}, secured=False)},
        "/readyz": {"get": _operation("store reachable", {"200": "ready",
                                                          "503": "store unreachable"},
                                      secured=False)},
        "/metrics": {"get": _operation("Prometheus text", {"200": "metrics"}, secured=False)},
        "/openapi.json": {"get": _operation("this document", {"200": "OpenAPI"},
                                            secured=False)},
        "/": {"get": _operation("the dashboard (HTML)", {"200": "the page"}, secured=False)},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "vmcore control plane", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "instance": {"type": "string"}}}},
        },
    }


async def openapi_endpoint(request: Request) -> Response:
    return json_response(document())
