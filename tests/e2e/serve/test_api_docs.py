"""docs/api.md's curl examples, each ``bash`` block run against a live `vmcore serve`.

The first block (starting the service) is the fixture's job; a ``# → CODE`` line says the
block's output must show that HTTP status."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.serve.server import running_server

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
TOKEN = "change-me"


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def test_curl_examples_run(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.fail("the docs examples need curl")
    examples = blocks()
    assert "serve --listen" in examples[0]
    with running_server("--rate", "0", store="file:./store", cwd=tmp_path,
                        env={"VMCORE_API_TOKEN": TOKEN}) as server:
        env = {"PATH": "/usr/bin:/bin", "VMCORE_URL": server.url, "VMCORE_API_TOKEN": TOKEN}
        for number, script in enumerate(examples[1:], start=2):
            result = subprocess.run(["bash", "-e", "-c", script], env=env, cwd=tmp_path,
                                    capture_output=True, text=True, timeout=60)
            assert 0 == result.returncode, (number, result.stdout, result.stderr)
            for code in re.findall(r"^# → (\d{3})$", script, re.M):
                assert code in result.stdout.splitlines(), (number, result.stdout)
            assert "error" not in result.stderr.lower(), (number, result.stderr)
