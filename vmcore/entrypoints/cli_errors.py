"""Every failure a user can cause or meet, as one line (or one JSON object) and an exit code.

The CLI's top level catches everything a command raises and asks :func:`describe` what to
say. The errors users can cause are listed here, in one place, by module and class name: a
class is only looked up if its module is already loaded (an error of a module nobody
imported cannot have been raised), so this costs no start-up time. A command added to the
CLI gets this for free; to teach it a new error, add a row to :data:`USER_ERRORS` (or raise a
:class:`vmcore.application.errors.VmcoreError`, which is always a user error).

Anything not listed is a bug: it is re-raised with its traceback.
"""

from __future__ import annotations

import errno
import sys
from dataclasses import dataclass

from vmcore.composition.stores import redact

EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output went away; nothing printed


@dataclass(frozen=True)
class UserError:
    """One row: errors of ``module.name`` (and subclasses) are reported as ``kind``; the
    ``hint`` (what to do) is appended to the error's own message."""

    module: str
    name: str
    kind: str
    hint: str = ""


USER_ERRORS: tuple[UserError, ...] = (
    UserError("vmcore.application.errors", "ConfigurationError", "configuration"),
    UserError("vmcore.application.errors", "StoreUnavailable", "store_unavailable",
              "check --store or VMCORE_STORE (`vmcore info` shows the store in effect)"),
    UserError("vmcore.application.errors", "VmNotFound", "not_found",
              "`vmcore vm list --all` shows every VM"),
    UserError("vmcore.application.errors", "VersionNotFound", "not_found"),
    UserError("vmcore.application.errors", "NameTaken", "conflict"),
    UserError("vmcore.application.errors", "ConcurrencyConflict", "conflict",
              "run the command again"),
    UserError("vmcore.application.errors", "VmcoreError", "error"),
    UserError("vmcore.domain.errors", "DomainError", "refused"),
    UserError("vmcore_event_store.file.errors", "StoreLockedError", "store_locked",
              "wait for it to finish, or use another --store"),
    UserError("vmcore_event_store.file.errors", "CorruptRecordError", "store_corrupt",
              "the store needs repair; nothing was changed"),
    UserError("vmcore_event_store.machine_snapshots", "SnapshotStoreError", "snapshot",
              "see `vmcore vm show VM` for the VM's snapshots"),
    UserError("vmcore_event_store.copy", "CopyError", "copy"),
    UserError("vmcore.entrypoints.arguments", "UsageError", "usage"),
)


@dataclass(frozen=True)
class Failure:
    """What to print and how to exit."""

    kind: str
    message: str
    exit_code: int = EXIT_USER_ERROR


def describe(error: BaseException) -> Failure | None:
    """The failure to report for ``error``, or None when it is a bug (keep the traceback)."""
    if isinstance(error, KeyboardInterrupt):
        return Failure("interrupted", "interrupted", EXIT_INTERRUPTED)
    for row in USER_ERRORS:
        cls = getattr(sys.modules.get(row.module), row.name, None)
        if isinstance(cls, type) and isinstance(error, cls):
            code = EXIT_USAGE if row.kind == "usage" else EXIT_USER_ERROR
            return Failure(row.kind, _with_hint(one_line(error), row.hint), code)
    if isinstance(error, OSError):
        return _environment_failure(error)
    return None


def _environment_failure(error: OSError) -> Failure:
    where = f": {error.filename}" if error.filename else ""
    if error.errno == errno.ENOSPC:
        return Failure("no_space", f"no space left on the device{where}: free some space"
                       " and run the command again (what was acknowledged is kept)")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return Failure("permission", f"permission denied{where}: choose a --store you can"
                       " write, or set VMCORE_HOME")
    reason = error.strerror or one_line(error)
    return Failure("os_error", f"{reason}{where}")


def _with_hint(message: str, hint: str) -> str:
    return f"{message}: {hint}" if hint else message


def one_line(error: BaseException) -> str:
    """The first line of the error's message (its class name if it has none), redacted."""
    text = str(error).strip() or type(error).__name__
    return redact(text.splitlines()[0])
