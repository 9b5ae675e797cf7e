"""The `vmcore` command (also `python -m vmcore`): drive the VM control plane from a shell.

Each subcommand lives in its own module, listed in :data:`COMMANDS` and imported only when
it is the one selected (or for help), so start-up costs only what the command needs. Every
failure a user can cause or meet is reported by :mod:`vmcore.entrypoints.cli_errors` as one
line on stderr (one JSON object with ``--json``) and a non-zero exit: 1 for mistakes and
environment failures, 2 for a wrong command line, 130 for Ctrl-C. Only bugs print a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple, TextIO


class Command(NamedTuple):  # not a dataclass: building one costs ~1 ms of every start-up
    """A subcommand: ``module`` exposes ``adder(subparsers)``, which adds the subcommand's
    parser and sets its ``run`` default: ``run(args, session) -> int`` (exit status)."""

    name: str
    module: str
    adder: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("vm", "vmcore.entrypoints.vm_command", "add_vm_command",
            "create, drive and inspect VMs"),
    Command("events", "vmcore.entrypoints.events_command", "add_events_command",
            "query events across VMs"),
    Command("run", "vmcore.entrypoints.guest_command", "add_run_command",
            "run a RISC-V guest ELF as a new VM, or resume one from a machine snapshot"),
    Command("store", "vmcore.entrypoints.store_command", "add_store_commands",
            "copy a store to another backend, verify copies"),
    Command("serve", "vmcore.entrypoints.serve_command", "add_serve_command",
            "run the control plane as an HTTP service (REST, SSE, WebSocket, dashboard)"),
    Command("bus", "vmcore.entrypoints.bus_service.command", "add_bus_command",
            "the event bus service (JSON-RPC over TCP): serve, emit, poll, subscribe"),
    Command("services", "vmcore.entrypoints.services_command", "add_services_command",
            "the domain services plugged into the bus, from entry points and settings"),
    Command("info", "vmcore.entrypoints.info_command", "add_info_command",
            "where data lives and the configuration in effect"),
    Command("demo", "vmcore.entrypoints.demo", "add_demo_command",
            "the main job: a tour of the lifecycle, then a replay check"),
)

_GLOBAL_WITH_VALUE = ("--store", "--config", "--url")
_EPILOG = """\
examples:
  vmcore vm create --name web-1 --vcpus 2 --memory 512M
  vmcore vm start web-1 && vmcore vm list
  vmcore --json vm show web-1
  vmcore events --topic 'vm.*' --limit 20
  vmcore --store sqlite:/tmp/vm.sqlite demo
  vmcore info

--json may come before or after the subcommand; errors are then JSON too:
  {"error": {"type": ..., "message": ...}}
exit status: 0 ok, 1 error, 2 wrong command line, 130 interrupted (Ctrl-C)
"""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("vmcore")
    except PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``: looks the version up only when asked (importlib.metadata is slow)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print vmcore's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        sys.stdout.write(f"vmcore {version()}\n")
        parser.exit()


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser. Only the ``selected`` command's module is imported and its full parser
    built (every one when ``selected`` is ``"*"``); the others are listed by name and help."""
    from vmcore.entrypoints.arguments import HelpFormatter, VmcoreParser

    parser = VmcoreParser(prog="vmcore", description=__doc__.splitlines()[0]
                          .replace("`", ""), epilog=_EPILOG)
    parser.add_argument("--store", metavar="SPEC",
                        help="file[:DIR], sqlite[:FILE], postgres[:DSN] or memory; default:"
                        " VMCORE_STORE, the --config file, else file:$VMCORE_HOME (see"
                        " `vmcore info`)")
    parser.add_argument("--config", metavar="FILE",
                        help="a .json or .ini settings file (store, fsync, snapshot_interval)")
    parser.add_argument("--json", action="store_true",
                        help="JSON output, errors included; also accepted after the subcommand")
    parser.add_argument("--url", metavar="URL",
                        help="send vm and events commands to a running `vmcore serve` at this"
                        " URL (token from VMCORE_API_TOKEN); or set VMCORE_URL")
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        if selected in (command.name, "*"):
            _add(command, commands)
        else:
            commands.add_parser(command.name, help=command.help, description=command.help,
                                formatter_class=HelpFormatter)
    return parser


def _add(command: Command, commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    import importlib

    getattr(importlib.import_module(command.module), command.adder)(commands)


def selected_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not a global option)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in _GLOBAL_WITH_VALUE:
            skip = True
        elif word == "--":
            return None
        elif not word.startswith("-"):
            return word
    return None


def split_json_flag(argv: Sequence[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--json`` (wherever it is, before a ``--``), and whether it was there."""
    words: list[str] = []
    found = skip = False
    for index, word in enumerate(argv):
        if word == "--":
            words.extend(argv[index:])
            break
        if word == "--json" and not skip:
            found = True
        else:
            words.append(word)
        skip = word in _GLOBAL_WITH_VALUE
    return words, found


def _check_text(words: Sequence[str]) -> None:
    """Arguments that are not valid text (bytes the locale cannot decode) are refused here,
    before they reach names, ids or file paths."""
    for word in words:
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            from vmcore.entrypoints.arguments import UsageError

            shown = word.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"argument {shown!r} is not valid UTF-8 text") from None


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    words, json_flag = split_json_flag(sys.argv[1:] if argv is None else argv)
    from vmcore.entrypoints.cli_output import report_failure, setup_streams

    setup_streams(out, err)
    try:
        _check_text(words)
        args = build_parser(selected_command(words)).parse_args(words)
        args.json = json_flag or args.json
        from vmcore.entrypoints.cli_session import CliSession

        session = CliSession(args, out, err)
        try:
            return int(args.run(args, session))
        finally:
            session.close()
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else 0
    except BaseException as error:
        return report_failure(error, err, json=json_flag, out=out)


if __name__ == "__main__":
    raise SystemExit(main())
