"""``/v1/vms``: create, list, show (at a version), command, history.

Routes translate HTTP to ControlPlane calls run in a worker thread (the stores block); the
lifecycle rules stay in the domain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vmcore.application.control_plane import ControlPlane
from vmcore.domain import CommandContext, PauseReason, Trn, VirtualMachine, VmConfig
from vmcore.entrypoints.http.bodies import (
    Body,
    CreateVm,
    MigrateArguments,
    NoArguments,
    PauseArguments,
    RestoreArguments,
    SnapshotArguments,
    StopArguments,
    read_json,
    validate,
)
from vmcore.entrypoints.http.problems import Problem
from vmcore.entrypoints.http.responses import json_response
from vmcore.entrypoints.presenters import event_record, vm_detail, vm_summaries

DomainCall = Callable[[VirtualMachine, Any, CommandContext], None]
COMMANDS: dict[str, tuple[type[Body], DomainCall | None]] = {
    "start": (NoArguments, lambda vm, a, c: vm.start(context=c)),
    "pause": (PauseArguments, lambda vm, a, c: vm.pause(PauseReason(a.reason), context=c)),
    "resume": (NoArguments, lambda vm, a, c: vm.resume(context=c)),
    "shutdown": (NoArguments, lambda vm, a, c: vm.shutdown(context=c)),
    "stop": (StopArguments, lambda vm, a, c: vm.stop(force=a.force, context=c)),
    "snapshot": (SnapshotArguments, lambda vm, a, c: vm.snapshot(
        a.snapshot_id, kind=a.kind, base_snapshot_id=a.base, context=c)),
    "restore": (RestoreArguments, lambda vm, a, c: vm.restore(a.snapshot_id, resume=a.resume,
                                                            context=c)),
    "migrate": (MigrateArguments, lambda vm, a, c: vm.migrate(a.destination, context=c)),
    "delete": (NoArguments, None),  # the ControlPlane also releases the name
}
API_ACTOR = Trn.of("api", "http")
MAX_REF = 200


def control_plane(request: Request) -> ControlPlane:
    cp: ControlPlane = request.app.state.control_plane
    return cp


def vm_ref(request: Request) -> str:
    ref: str = request.path_params["ref"]
    if not ref or len(ref) > MAX_REF or not ref.isprintable() or ref.strip() != ref:
        raise Problem(400, "a VM reference is a name or an id of at most"
                      f" {MAX_REF} printable characters", kind="invalid-reference")
    return ref


def int_param(request: Request, name: str, *, minimum: int = 0,
              default: int | None = None, maximum: int | None = None) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < minimum or (maximum is not None
                                                     and int(text) > maximum):
        bound = f" and {maximum}" if maximum is not None else ""
        raise Problem(400, f"query parameter {name!r} must be a whole number between"
                      f" {minimum}{bound}, got {text!r}", kind="invalid-parameter")
    return int(text)


def expected_version(request: Request) -> int | None:
    header = request.headers.get("if-match")
    if header is None:
        return None
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Problem(400, f"If-Match must be a VM version such as \"3\", got {header!r}",
                      kind="invalid-precondition")
    return int(text)


def command_context(request: Request) -> CommandContext:
    """Who and which request: the API's actor, and the caller's ``X-Correlation-ID`` (or a
    new one) so that ``GET /v1/events?correlation=`` finds every event of the request."""
    given = request.headers.get("x-correlation-id")
    if given is None:
        return CommandContext(actor=API_ACTOR)
    if not given or len(given) > 200 or not given.isprintable():
        raise Problem(400, "X-Correlation-ID must be 1 to 200 printable characters",
                      kind="invalid-header")
    return CommandContext(actor=API_ACTOR, correlation_id=given)


def vm_response(vm: VirtualMachine, status: int = 200,
                context: CommandContext | None = None) -> Response:
    headers = {"ETag": f'"{vm.version}"'}
    if context is not None:
        headers["X-Correlation-ID"] = context.correlation_id
    return json_response(vm_detail(vm), status, headers=headers)


async def list_vms(request: Request) -> Response:
    include_deleted = request.query_params.get("all", "false").lower() in ("1", "true", "yes")
    state = request.app.state
    cp = state.control_plane
    vms = cp.cached_vms(state.known_head.position, include_deleted=include_deleted)
    if vms is None:
        vms = await run_in_threadpool(cp.list_vms, include_deleted=include_deleted)
    return json_response(vm_summaries(vms))


async def create_vm(request: Request) -> Response:
    body = validate(CreateVm, await read_json(request))
    context = command_context(request)
    cp = control_plane(request)

    def create() -> VirtualMachine:
        config = VmConfig(vcpus=body.vcpus, memory=body.memory, arch=body.arch,
                          flags=frozenset(body.flags), max_vcpus=body.max_vcpus,
                          max_memory=body.max_memory)
        return cp.get_vm(cp.create_vm(body.name, config, created_by="api", tags=body.tags,
                                      context=context))

    vm = await run_in_threadpool(create)
    response = vm_response(vm, 201, context)
    response.headers["Location"] = f"/v1/vms/{vm.id}"
    return response


async def show_vm(request: Request) -> Response:
    version = int_param(request, "version", minimum=1)
    vm = await run_in_threadpool(control_plane(request).get_vm, vm_ref(request),
                                 version=version)
    return vm_response(vm)


async def command_vm(request: Request) -> Response:
    ref = vm_ref(request)
    name = request.path_params["command"]
    if name not in COMMANDS:
        raise Problem(404, f"unknown command {name!r}; one of: {', '.join(COMMANDS)}",
                      kind="unknown-command")
    model, call = COMMANDS[name]
    arguments = validate(model, await read_json(request))
    expected = expected_version(request)
    context = command_context(request)
    cp = control_plane(request)
    if call is None:
        vm = await run_in_threadpool(cp.delete_vm, ref, expected_version=expected,
                                     context=context)
    else:
        vm = await run_in_threadpool(cp.execute, ref, lambda vm: call(vm, arguments, context),
                                     expected_version=expected)
    return vm_response(vm, context=context)


async def vm_history(request: Request) -> Response:
    events = await run_in_threadpool(control_plane(request).history, vm_ref(request))
    return json_response([event_record(event) for event in events])


ROUTES = [
    Route("/v1/vms", list_vms, methods=["GET"], name="list_vms"),
    Route("/v1/vms", create_vm, methods=["POST"], name="create_vm"),
    Route("/v1/vms/{ref}", show_vm, methods=["GET"], name="show_vm"),
    Route("/v1/vms/{ref}/events", vm_history, methods=["GET"], name="vm_history"),
    Route("/v1/vms/{ref}/{command}", command_vm, methods=["POST"], name="command_vm"),
]
