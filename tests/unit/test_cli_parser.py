"""The CLI's parser: every argument explained, defaults shown, examples given, the docs'
reference generated from it, and the values it offers equal to the domain's."""

from __future__ import annotations

import argparse
import io
import sys
from contextlib import redirect_stdout
from pathlib import Path

import platformdirs
import pytest

from vmcore.composition.stores import vmcore_home
from vmcore.domain import KNOWN_FLAGS, Architecture, PauseReason
from vmcore.entrypoints import vm_command
from vmcore.entrypoints.cli import COMMANDS, build_parser, main, selected_command, split_json_flag
from vmcore.entrypoints.cli_reference import options, render, splice, walk

ROOT = Path(__file__).resolve().parents[2]
PARSERS = list(walk(build_parser("*")))


def test_docs_cli_reference_is_generated_from_the_parser() -> None:
    document = (ROOT / "docs" / "cli.md").read_text()
    assert document == splice(document, render()), (
        "docs/cli.md is stale: run python -m vmcore.entrypoints.cli_reference docs/cli.md")


@pytest.mark.parametrize("parser", [p for p, _ in PARSERS], ids=lambda p: p.prog)
def test_every_argument_has_help_and_every_default_is_shown(
        parser: argparse.ArgumentParser) -> None:
    assert [] == [a.dest for a in options(parser) if not a.help]
    text = parser.format_help()
    for action in options(parser):
        if action.option_strings and action.default not in (None, False, [],
                                                            argparse.SUPPRESS):
            assert f"(default: {action.default})" in text, action.dest


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_command_registers_a_run_function_and_examples(command: object) -> None:
    parser = build_parser(command.name)  # type: ignore[attr-defined]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    selected = sub.choices[command.name]  # type: ignore[attr-defined]
    assert [] == _leaves_without_run(selected, None)
    assert "examples:" in (selected.epilog or "")


def _leaves_without_run(parser: argparse.ArgumentParser, run: object) -> list[str]:
    """Parsers a command line can end in whose run function (theirs or a parent's) is
    missing."""
    run = parser.get_default("run") or run
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [] if callable(run) else [parser.prog]
    return [prog for action in subs for child in action.choices.values()
            for prog in _leaves_without_run(child, run)]


def test_the_values_offered_are_the_domains() -> None:
    assert ({r.value for r in PauseReason}, {a.value for a in Architecture}, KNOWN_FLAGS) == (
        set(vm_command.PAUSE_REASONS), set(vm_command.ARCHITECTURES), set(vm_command.FLAGS))


def test_version_and_help_print_and_exit_zero() -> None:
    for argv, expected in ((["--version"], "vmcore "), (["--help"], "examples:")):
        printed = io.StringIO()
        with redirect_stdout(printed):
            assert 0 == main(argv)
        assert expected in printed.getvalue()


@pytest.mark.parametrize(("argv", "command", "json"), [
    (["--json", "vm", "list"], "vm", True),
    (["vm", "list", "--json"], "vm", True),
    (["--store", "vm", "events"], "events", False),
    (["--config", "x.json", "--json", "store", "copy", "--to", "sqlite"], "store", True),
    (["--", "--json"], None, False),
    ([], None, False),
])
def test_the_command_and_the_json_flag_are_found_anywhere(argv: list[str], command: str | None,
                                                         json: bool) -> None:
    words, found = split_json_flag(argv)
    assert (command, json) == (selected_command(words), found)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rule is Linux's")
@pytest.mark.parametrize("xdg", [None, "/srv/data"])
def test_the_default_home_is_what_platformdirs_says(xdg: str | None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    monkeypatch.delenv("VMCORE_HOME", raising=False)
    assert Path(platformdirs.user_data_dir("vmcore")) == vmcore_home()
