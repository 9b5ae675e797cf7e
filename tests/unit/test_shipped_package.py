"""What ships: ``vmcore.testing`` imports with only the runtime dependencies and the
``testing`` extra, and no docstring or comment cites a file the repository lacks."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("vmcore", "vmcore_domain_services", "vmcore_event_store")
DEV_ONLY = ("pytest", "_pytest", "unicorn", "capstone", "pyee", "blinker", "mypy", "ruff", "tests")
"""Top-level modules of the ``dev`` extra (and the test tree): not on a plain install."""
# Names of files a user writes (seed 002's config), mentioned in docstrings: not citations.
USER_FILES = {"event_buses.json"}
CITED = re.compile(r"(?<![\w/.])((?:[\w.-]+/)*[\w-]+\.(?:md|txt|toml|json|ya?ml|cfg|ini))\b")

_BLOCKER = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {DEV_ONLY!r}:
            raise ImportError('not on a plain install: ' + name)
sys.meta_path.insert(0, Block())
import vmcore.testing
from vmcore.testing import VmLifecycleMachine, vm_configs
print('ok')
"""


def test_vmcore_testing_imports_without_the_dev_extra() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKER], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert ("ok\n", "") == (result.stdout, result.stderr[-2000:])


def test_the_testing_extra_names_hypothesis() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    testing = extras["optional-dependencies"]["testing"]
    assert ["hypothesis"] == [re.split(r"[<>=\[ ]", spec)[0] for spec in testing]


def _prose(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every docstring and comment of a module."""
    source = path.read_text()
    found = [
        (node.body[0].lineno, node.body[0].value.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
        and isinstance(node.body[0].value.value, str)
    ]
    found += [
        (token.start[0], token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    return found


def test_no_shipped_docstring_or_comment_cites_a_file_outside_the_repository() -> None:
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {cited}"
        for package in SHIPPED
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, text in _prose(path)
        for cited in CITED.findall(text)
        if cited not in USER_FILES
        and not (ROOT / cited).exists() and not (path.parent / cited).exists()
    ]
    assert [] == missing
