"""Every ```python block in docs/*.md and README.md runs: the blocks of one file top to
bottom in one namespace, with the repo root as cwd and a scratch directory in
VMCORE_DOCS_TMP."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"])
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> list[str]:
    return _BLOCK.findall(path.read_text())


@pytest.mark.parametrize("doc", [d for d in DOCS if python_blocks(d)],
                         ids=lambda d: d.relative_to(ROOT).as_posix())
def test_doc_code_blocks_run(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("VMCORE_DOCS_TMP", str(tmp_path))
    namespace: dict[str, object] = {"__name__": f"docs.{doc.stem}"}
    for number, block in enumerate(python_blocks(doc), start=1):
        code = compile(block, f"{doc.relative_to(ROOT)} (block {number})", "exec")
        exec(code, namespace)


def test_docs_exist_for_every_area() -> None:
    names = {path.name for path in ROOT.glob("docs/*.md")}
    assert {"index.md", "domain-model.md", "events.md", "cli.md", "testing.md"} <= names
    assert os.path.exists(ROOT / "docs" / "performance.md")
