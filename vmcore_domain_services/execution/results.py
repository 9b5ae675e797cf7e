"""Why a run stopped, and what the caller needs to know about it."""

from __future__ import annotations

from enum import Enum

from attrs import frozen

__all__ = ["HaltReason", "RunResult"]


class HaltReason(Enum):
    """Why :meth:`Machine.run` returned (not a VM's stop reason: that is the domain's
    :class:`vmcore.domain.HaltReason`)."""

    EXITED = "exited"
    """The guest wrote the test finisher; ``exit_code`` holds its code."""
    FAULT = "fault"
    """A trap nobody handles (trap vector not set up, or a fault at the trap vector)."""
    PAUSED = "paused"
    """:meth:`Machine.request_pause` was honoured at a block boundary."""
    LIMIT = "limit"
    """``max_instructions`` retired."""
    DEBUG = "debug"
    """A debugger breakpoint or watchpoint was hit; :attr:`Machine.debug_hit` says which."""


@frozen
class RunResult:
    """The outcome of one :meth:`Machine.run` call.

    ``instructions`` counts the guest instructions retired by this call; ``pc`` is where the
    guest would continue (for FAULT: the faulting instruction, with ``cause`` and ``tval``).
    """

    reason: HaltReason
    instructions: int
    pc: int
    exit_code: int | None = None
    cause: int | None = None
    tval: int | None = None
