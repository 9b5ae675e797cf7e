"""RFC 9457 problem details: every error the API answers is ``application/problem+json``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from vmcore.application.errors import (
    ConcurrencyConflict,
    ConfigurationError,
    NameTaken,
    VersionMismatch,
    VersionNotFound,
    VmNotFound,
)
from vmcore.domain import IllegalTransition, InvalidValue, InvariantViolation

PROBLEM_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 412: "Precondition Failed", 413: "Content Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Content", 428: "Precondition Required",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}


class Problem(Exception):
    """Raise in a route to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, kind: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, detail: str, *, kind: str | None = None,
                     instance: str | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> Response:
    title = _TITLES.get(status, "Error")
    body: dict[str, Any] = {
        "type": f"https://vmcore.dev/problems/{kind}" if kind else "about:blank",
        "title": title, "status": status, "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_TYPE,
                    headers=headers)


def from_problem(problem: Problem, instance: str | None = None) -> Response:
    return problem_response(problem.status, problem.detail, kind=problem.kind,
                            instance=instance, headers=problem.headers, **problem.extra)


def from_error(error: Exception) -> Problem | None:
    """The problem a use-case error stands for (``None`` for a bug)."""
    if isinstance(error, VmNotFound | VersionNotFound):
        return Problem(404, str(error), kind="not-found")
    if isinstance(error, VersionMismatch):
        return Problem(412, str(error), kind="version-mismatch", version=error.actual)
    if isinstance(error, ConcurrencyConflict):
        return Problem(409, str(error), kind="concurrent-modification")
    if isinstance(error, NameTaken):
        return Problem(409, str(error), kind="name-taken")
    if isinstance(error, IllegalTransition):
        return Problem(409, str(error), kind="illegal-transition", state=error.state)
    if isinstance(error, InvariantViolation):
        return Problem(409, str(error), kind="invariant-violation")
    if isinstance(error, InvalidValue | ConfigurationError):
        return Problem(422, str(error), kind="invalid-value")
    return None
