"""A damaged file store: `vmcore store salvage` keeps every intact record and names what was
lost; a damaged snapshots log leaves the events readable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.e2e.cli_runner import vmcore
from vmcore.application import ControlPlane
from vmcore.composition import StoreSpec
from vmcore.domain import VmConfig
from vmcore_event_store.file.framing import HEADER_SIZE, scan

SEGMENT = Path("events") / f"{1:012d}.seg"


def _store(path: Path) -> list[str]:
    """A store with three VMs driven through a few commands; returns their names."""
    names = ["web-1", "web-2", "db-1"]
    with ControlPlane(StoreSpec("file", str(path)).env(), snapshot_interval=2) as cp:
        for name in names:
            cp.create_vm(name, VmConfig())
            cp.start_vm(name)
            cp.pause_vm(name)
    return names


def _records(segment: Path) -> list[tuple[int, list[int]]]:
    """(offset, notification ids) of every record in a segment."""
    data = segment.read_bytes()
    records, position = [], 0
    while position < len(data):
        result = scan(data, position)
        if not result.commits:
            break
        end = scan(data[: position + HEADER_SIZE + int.from_bytes(
            data[position + 4:position + 8], "little")], position).end
        records.append((position, [n.id for n in result.commits[0].notifications]))
        position = end
    return records


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_salvage_copies_every_intact_record_and_names_the_lost_one(tmp_path: Path) -> None:
    source, target = tmp_path / "damaged", tmp_path / "rescued"
    _store(source)
    records = _records(source / SEGMENT)
    offset, lost_ids = records[3]
    next_offset = records[4][0]
    _flip(source / SEGMENT, offset + HEADER_SIZE + 5)  # inside the 4th record's payload

    result = vmcore("store", "salvage", str(source), str(target), cwd=tmp_path)

    assert 1 == result.returncode, result.stderr
    all_ids = [i for _, ids in records for i in ids]
    kept = [i for i in all_ids if i not in lost_ids]
    assert [f"salvaged {len(kept)} events, 3 snapshots and 0 tracking positions into"
            f" file:{target}",
            f"lost: {source / SEGMENT} at offset {offset} ({next_offset - offset} bytes):"
            " payload checksum mismatch"] == result.stdout.splitlines()
    with ControlPlane(StoreSpec("file", str(target)).env()) as rescued:
        assert kept == [n.id for n in rescued.recorder.select_notifications(1, 100)]


def test_salvage_of_an_intact_store_loses_nothing(tmp_path: Path) -> None:
    _store(tmp_path / "fine")
    result = vmcore("store", "salvage", str(tmp_path / "fine"), str(tmp_path / "copy"),
                    cwd=tmp_path)
    assert (0, "lost: nothing") == (result.returncode, result.stdout.splitlines()[-1])
    verdict = vmcore("store", "verify", "--from", f"file:{tmp_path / 'fine'}",
                     "--to", f"file:{tmp_path / 'copy'}", cwd=tmp_path)
    assert 0 == verdict.returncode, verdict.stdout


def test_a_damaged_snapshots_log_leaves_the_events_readable(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    names = _store(tmp_path / "store")
    snapshots = tmp_path / "store" / "snapshots" / f"{1:012d}.seg"
    _flip(snapshots, HEADER_SIZE + 3)
    with caplog.at_level(logging.WARNING, "vmcore.application.control_plane"), \
            ControlPlane(StoreSpec("file", str(tmp_path / "store")).env(),
                         snapshot_interval=2) as cp:
        assert names == [vm.name for vm in cp.list_vms()]
        assert [3, 3, 3] == [vm.version for vm in cp.list_vms()]
        assert cp.snapshot_store_error is not None
        assert (str(snapshots), 0) == (cp.snapshot_store_error.path,
                                       cp.snapshot_store_error.offset)
        cp.resume_vm("web-1")  # commands still work; no snapshot is written
    assert "snapshots unavailable, reading events only" in caplog.text
    listed = vmcore("vm", "list", cwd=tmp_path / "store" / "..",
                    env={"VMCORE_STORE": f"file:{tmp_path / 'store'}"})
    assert 0 == listed.returncode, listed.stderr
    assert all(name in listed.stdout for name in names)
