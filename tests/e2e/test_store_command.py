"""`vmcore store copy|verify` across the file store, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.cli_runner import vmcore
from tests.integration.conftest import create_schema


def test_copy_file_to_sqlite_to_postgres_and_verify(tmp_path: Path) -> None:
    pg_env = {"POSTGRES_SCHEMA": create_schema("copy")}
    assert 0 == vmcore("demo", cwd=tmp_path, env={"VMCORE_SNAPSHOT_INTERVAL": "3"}).returncode
    sqlite = f"sqlite:{tmp_path / 'copy.sqlite'}"

    first = vmcore("store", "copy", "--from", "file", "--to", sqlite, cwd=tmp_path)
    assert 0 == first.returncode, first.stderr
    # the demo records 18 VM events, 3 name claims and 1 release; snapshots every 3 events
    assert "copied 22 events and 5 snapshots" in first.stdout
    second = vmcore("store", "copy", "--from", sqlite, "--to", "postgres", cwd=tmp_path,
                    env=pg_env)
    assert 0 == second.returncode, second.stderr
    for source, target in (("file", sqlite), (sqlite, "postgres"), ("file", "postgres")):
        verdict = vmcore("store", "verify", "--from", source, "--to", target, cwd=tmp_path,
                         env=pg_env)
        assert 0 == verdict.returncode, verdict.stdout + verdict.stderr
        assert verdict.stdout.startswith("identical: 22 events and 5 snapshots")

    on_file = json.loads(vmcore("vm", "list", "--json", cwd=tmp_path).stdout)
    on_postgres = json.loads(vmcore("--store", "postgres", "vm", "list", "--json",
                                    cwd=tmp_path, env=pg_env).stdout)
    assert on_file == on_postgres

    again = vmcore("store", "copy", "--from", "file", "--to", sqlite, cwd=tmp_path)
    assert "copied 0 events and 0 snapshots (resumed after 22)" in again.stdout


def test_verify_reports_the_first_difference(tmp_path: Path) -> None:
    vmcore("vm", "create", "--name", "a", cwd=tmp_path)
    other = f"sqlite:{tmp_path / 'other.sqlite'}"
    vmcore("--store", other, "vm", "create", "--name", "a", cwd=tmp_path)
    verdict = vmcore("store", "verify", "--from", "file", "--to", other, cwd=tmp_path)
    assert 1 == verdict.returncode
    assert verdict.stdout.startswith("different after 0 events: notification 1:")


def test_reindex_rebuilds_a_file_stores_index(tmp_path: Path) -> None:
    assert 0 == vmcore("vm", "create", "--name", "a", cwd=tmp_path).returncode
    before = vmcore("vm", "list", "--json", cwd=tmp_path).stdout
    index = tmp_path / ".vmcore" / "events" / "index.sqlite"
    index.write_bytes(b"not an index")  # a damaged index is never trusted
    result = vmcore("store", "reindex", cwd=tmp_path)
    assert 0 == result.returncode, result.stderr
    assert "reindexed" in result.stdout and "notifications up to 2" in result.stdout
    assert index.read_bytes().startswith(b"SQLite format 3")
    assert before == vmcore("vm", "list", "--json", cwd=tmp_path).stdout
    missing = vmcore("store", "reindex", "--store", f"file:{tmp_path / 'nowhere'}", cwd=tmp_path)
    assert (1, "") == (missing.returncode, missing.stdout)
    assert "no file store at" in missing.stderr
