"""Application-level errors: what a use case reports besides the domain's own refusals."""

from __future__ import annotations

from uuid import UUID

from vmcore.domain.errors import DomainError


class VmcoreError(Exception):
    """Base of the errors vmcore's application layer raises for users to handle."""


class VmNotFound(VmcoreError, LookupError):
    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__(f"no VM named or with id {reference!r}")


class VersionNotFound(VmcoreError, LookupError):
    def __init__(self, reference: str, version: int, latest: int) -> None:
        self.reference = reference
        self.version = version
        self.latest = latest
        super().__init__(f"VM {reference!r} has versions 1 to {latest}, not {version}")


class VersionMismatch(VmcoreError):
    """A command was meant for one version of a VM, but the VM has moved on."""

    def __init__(self, reference: str, expected: int, actual: int) -> None:
        self.reference = reference
        self.expected = expected
        self.actual = actual
        super().__init__(f"VM {reference!r} is at version {actual}, not {expected}")


class NameTaken(VmcoreError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a VM named {name!r} already exists")


class ConcurrencyConflict(VmcoreError):
    """Someone else recorded an event for this aggregate between our read and our write.

    Nothing of the refused save was stored. Re-read and decide again, for example with
    :func:`vmcore.application.retries.retry_on_conflict`.
    """

    def __init__(self, aggregate_ids: list[UUID]) -> None:
        self.aggregate_ids = aggregate_ids
        ids = ", ".join(str(i) for i in aggregate_ids) or "unknown aggregate"
        super().__init__(f"concurrent modification of {ids}: re-read and retry")


class StoreUnavailable(VmcoreError):
    """The configured event store could not be opened or reached."""


class ConfigurationError(VmcoreError, ValueError):
    """vmcore's own configuration (store selection, paths, intervals) is invalid."""


USER_ERRORS: tuple[type[Exception], ...] = (VmcoreError, DomainError)
"""Errors that are the user's to fix: the CLI prints them as one line, no traceback."""
