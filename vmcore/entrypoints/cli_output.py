"""The CLI's output streams: text that cannot be encoded is escaped (never a
``UnicodeEncodeError``), warnings and log records are one line each, and failures are
reported as one line or one JSON object (:func:`report_failure`)."""

from __future__ import annotations

import io
import json as _json
import logging
import warnings
from typing import Any, TextIO

_PREFIX = "vmcore"


def setup_streams(out: TextIO, err: TextIO) -> None:
    """Makes ``out`` and ``err`` escape what they cannot encode, and routes warnings and
    log records (WARNING and up) to ``err`` as ``vmcore: warning: ...``, each once."""
    for stream in (out, err):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    handler = _OneLine(err)
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _OneLine)] + [handler]
    root.setLevel(logging.WARNING)

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        del category, filename, lineno, file, line
        handler.write_once("warning", str(message))

    warnings.showwarning = show


class _OneLine(logging.Handler):
    def __init__(self, err: TextIO) -> None:
        super().__init__(logging.WARNING)
        self.err = err
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.write_once(record.levelname.lower(), record.getMessage())

    def write_once(self, level: str, message: str) -> None:
        first = message.strip().splitlines()[0] if message.strip() else level
        if first not in self.seen:
            self.seen.add(first)
            self.err.write(f"{_PREFIX}: {level}: {first}\n")
            self.err.flush()


def report_failure(error: BaseException, err: TextIO, *, json: bool, out: TextIO) -> int:
    """Writes the failure (one line on ``err``, or JSON on ``out`` with ``--json``) and
    returns the exit status; re-raises ``error`` if it is a bug."""
    from vmcore.entrypoints.cli_errors import EXIT_BROKEN_PIPE, describe

    if isinstance(error, BrokenPipeError):  # the reader went away (`vmcore ... | head`)
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    failure = describe(error)
    if failure is None:
        raise error
    if json:
        record = {"error": {"type": failure.kind, "message": failure.message}}
        out.write(_dumps(record) + "\n")
        out.flush()
    else:
        err.write(f"{_PREFIX}: error: {failure.message}\n")
        err.flush()
    return failure.exit_code


def _silence_stdout() -> None:
    """Points stdout at /dev/null, so that the interpreter's final flush of what is left in
    its buffer does not fail a second time (the way Python's docs advise for SIGPIPE)."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _dumps(value: Any) -> str:
    return _json.dumps(value, ensure_ascii=True)
