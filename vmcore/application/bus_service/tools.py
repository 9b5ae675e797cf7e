"""Tools a rule can invoke, keyed by TRN: callables registered under the ``vmcore.tools``
entry point group, plus built-in tools driving a ControlPlane (start, pause, resume, stop).

A tool is called as ``tool(input, event)`` (``event`` is the triggering envelope) in a worker
thread and returns a JSON value; what it returns or raises becomes an event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from vmcore.application.control_plane import ControlPlane
from vmcore.domain import PauseReason, VirtualMachine

Tool = Callable[[Any, dict[str, Any]], Any]
ENTRY_POINT_GROUP = "vmcore.tools"
VM_TOOL_PREFIX = "trn:tool:vmcore:"


class ToolError(Exception):
    """A tool that cannot be found or loaded."""


def entry_point_tools(group: str = ENTRY_POINT_GROUP) -> dict[str, Tool]:
    """Every tool installed under ``group``: the entry point's name is the tool's TRN (or
    the loaded object has a ``tool_trn`` attribute)."""
    tools: dict[str, Tool] = {}
    for point in entry_points(group=group):
        try:
            tool = point.load()
        except Exception as error:  # a broken plugin must not stop the service
            raise ToolError(f"tool entry point {point.name!r} does not load: {error}") from None
        trn = getattr(tool, "tool_trn", point.name)
        if not callable(tool) or not str(trn).startswith("trn:"):
            raise ToolError(f"tool entry point {point.name!r}: needs a callable and a TRN name")
        tools[str(trn)] = tool
    return tools


def vm_tools(control_plane: ControlPlane) -> dict[str, Tool]:
    """``trn:tool:vmcore:start-vm`` and friends: ``input`` ``{"vm": NAME}``, or without it
    the VM named by the trigger's ``target_trn`` (``trn:vm:NAME``)."""
    actions: dict[str, Callable[[str], VirtualMachine]] = {
        "start-vm": control_plane.start_vm,
        "pause-vm": lambda ref: control_plane.pause_vm(ref, PauseReason.USER),
        "resume-vm": control_plane.resume_vm,
        "stop-vm": lambda ref: control_plane.stop_vm(ref, force=True),
    }

    def tool(action: Callable[[str], VirtualMachine]) -> Tool:
        def invoke(tool_input: Any, event: dict[str, Any]) -> Any:
            vm = _vm_ref(tool_input, event)
            result = action(vm)
            return {"vm": result.name, "state": result.state.value, "version": result.version}
        return invoke

    return {VM_TOOL_PREFIX + name: tool(action) for name, action in actions.items()}


def _vm_ref(tool_input: Any, event: Mapping[str, Any]) -> str:
    if isinstance(tool_input, dict) and isinstance(tool_input.get("vm"), str):
        return str(tool_input["vm"])
    target = event.get("target_trn")
    if isinstance(target, str) and target.startswith("trn:vm:"):
        return target.split(":")[2]
    raise ValueError('give input {"vm": NAME} or a trigger with target_trn trn:vm:NAME')
