"""Request bodies: read with a size limit, parsed as JSON, validated by pydantic models.

The models forbid unknown fields and do not coerce types (``"2"`` is not a vCPU count);
the domain still validates the values (sizes, architectures, flags) and has the last word.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from vmcore.entrypoints.http.problems import Problem

MAX_BODY = 1 << 20
M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateVm(Body):
    name: str = Field(min_length=1, max_length=200)
    vcpus: int = 1
    memory: int | str = "128M"
    arch: str = "riscv64"
    tags: list[str] = Field(default_factory=list, max_length=100)
    flags: list[str] = Field(default_factory=list, max_length=100)
    max_vcpus: int | None = None
    max_memory: int | str | None = None


class NoArguments(Body):
    pass


class PauseArguments(Body):
    reason: Literal["user", "io_error", "watchdog", "snapshot", "migration"] = "user"


class StopArguments(Body):
    force: bool = False


class SnapshotArguments(Body):
    snapshot_id: str = Field(min_length=1, max_length=200)
    kind: Literal["full", "diff"] = "full"
    base: str | None = None


class RestoreArguments(Body):
    snapshot_id: str = Field(min_length=1, max_length=200)
    resume: bool = False


class MigrateArguments(Body):
    destination: str = Field(min_length=1, max_length=500)


async def read_json(request: Request, limit: int = MAX_BODY) -> Any:
    """The request's JSON document; an empty body reads as ``{}``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"request body over {limit} bytes", kind="too-large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"request body over {limit} bytes", kind="too-large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    content_type = request.headers.get("content-type", "application/json")
    if not content_type.split(";")[0].strip().lower().endswith("json"):
        raise Problem(415, f"send JSON (Content-Type: application/json), not {content_type}",
                      kind="unsupported-media-type")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Problem(400, f"malformed JSON: {error}", kind="malformed-json") from None


def validate(model: type[M], document: Any) -> M:
    """The document as ``model``, or a 422 naming each offending field."""
    if not isinstance(document, dict):
        raise Problem(422, "the body must be a JSON object", kind="invalid-body",
                      errors=[{"field": "", "message": "expected an object"}])
    try:
        return model.model_validate(document)
    except ValidationError as error:
        errors = [{"field": ".".join(str(part) for part in item["loc"]) or "(body)",
                   "message": item["msg"]} for item in error.errors()]
        first = errors[0]
        raise Problem(422, f"invalid field {first['field']!r}: {first['message']}",
                      kind="invalid-body", errors=errors) from None
