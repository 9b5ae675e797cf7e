"""`vmcore services list` and the MMU service of `vmcore run`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.cli_runner import ROOT, vmcore


def test_services_list_shows_the_built_in_services_and_the_settings(tmp_path: Path) -> None:
    config = tmp_path / "vmcore.json"
    config.write_text(json.dumps({"services": {"lifecycle": {"enabled": False}}}))
    result = vmcore("--config", str(config), "services", "list", "--json", cwd=tmp_path)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert (False, True) == (rows["lifecycle"]["enabled"], rows["mmu"]["enabled"])
    assert "vmcore" == rows["mmu"]["distribution"]
    text = vmcore("services", "list", cwd=tmp_path).stdout
    assert text.splitlines()[0].split() == ["NAME", "ENABLED", "DISTRIBUTION", "FACTORY",
                                            "OPTIONS"]


def test_bad_service_settings_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "vmcore.json"
    config.write_text(json.dumps({"services": {"mmu": {"breaker": {"timeout": -1}}}}))
    result = vmcore("--config", str(config), "services", "list", cwd=tmp_path)
    assert 1 == result.returncode
    assert 1 == len(result.stderr.splitlines())
    assert result.stderr.startswith("vmcore: error: services.mmu:")


def test_vmcore_run_needs_the_mmu_service(tmp_path: Path) -> None:
    hello = ROOT / "examples" / "guests" / "build" / "hello.elf"
    result = vmcore("run", str(hello), "--name", "h", cwd=tmp_path,
                    env={"VMCORE_SERVICES_DISABLED": "mmu"})
    assert (1, "vmcore: error: vmcore run needs the 'mmu' domain service: do not disable it\n"
            ) == (result.returncode, result.stderr.splitlines(keepends=True)[-1])
    assert "[]" == vmcore("vm", "list", "--json", cwd=tmp_path).stdout.strip()
