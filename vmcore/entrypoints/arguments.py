"""The CLI's argparse pieces: a parser whose mistakes raise instead of exiting, a help
formatter that shows every default and keeps epilog examples as written, and the argument
types shared by commands (positive counts, ISO times)."""

from __future__ import annotations

import argparse
import functools
import gettext
import os
from datetime import datetime
from typing import Any, cast

# argparse translates its own words ("usage: ", "options", "show this help message and
# exit") through gettext.gettext for every parser and option it builds, and gettext looks
# for a catalogue on disk at every call (locale names normalised, a stat each): with LANG set,
# building `vmcore vm list`'s parser took 12-18 ms here, 2-4 ms without those lookups.
# The answer cannot change within a run (vmcore never rebinds text domains), so each word is
# looked up once: translations, where installed, still apply.
if getattr(argparse, "_", None) is gettext.gettext:
    argparse._ = functools.cache(gettext.gettext)  # type: ignore[attr-defined]


class UsageError(Exception):
    """The command line itself is wrong (unknown option, missing argument, bad number)."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (examples keep their lines); every option that
    has a default says so."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or default in (None, False, [], argparse.SUPPRESS)
                or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


class VmcoreParser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`UsageError` (one line, exit 2 at the top
    level, JSON with ``--json``) instead of printing its usage and exiting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse builds a formatter for every add_argument; without a width it imports
        # shutil (and bz2, lzma ...) to ask for the terminal's: ask os directly instead.
        formatter: argparse.HelpFormatter = cast(Any, self.formatter_class)(
            prog=self.prog, width=_terminal_width())
        return formatter

    def error(self, message: str) -> Any:  # argparse declares NoReturn
        where = self.prog.removeprefix("vmcore").strip()
        raise UsageError(f"{where + ': ' if where else ''}{message} (see {self.prog} --help)")


def _terminal_width() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size(2).columns
    except (ValueError, OSError):
        columns = 80
    return max(columns, 40) - 2


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def timestamp(text: str) -> datetime:
    """An ISO 8601 time with a time zone (``2026-01-01T00:00Z``)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone (e.g. 'Z'): {text!r}")
    return value
