"""Domain errors: every refusal names what was refused and why."""

from __future__ import annotations

from uuid import UUID


class DomainError(Exception):
    """Base class of every error the domain raises for a refused command or bad value."""


class InvalidValue(DomainError, ValueError):
    """A value object was given a value it cannot hold (bad size, unknown arch, bad TRN)."""


class IllegalTransition(DomainError):
    """A lifecycle command was issued in a state that does not allow it."""

    def __init__(self, vm_id: UUID, vm_name: str, command: str, state: str) -> None:
        self.vm_id = vm_id
        self.vm_name = vm_name
        self.command = command
        self.state = state
        super().__init__(
            f"VM {vm_name!r} ({vm_id}) cannot {command} while {state}"
        )


class InvariantViolation(DomainError):
    """A command was legal in this state but would break an invariant of the VM."""

    def __init__(self, vm_id: UUID, vm_name: str, command: str, problem: str) -> None:
        self.vm_id = vm_id
        self.vm_name = vm_name
        self.command = command
        self.problem = problem
        super().__init__(f"VM {vm_name!r} ({vm_id}) refused {command}: {problem}")
