"""v1 events, as an older vmcore stored them (raw bytes in tests/fixtures), load as v2."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from vmcore.application import ControlPlane
from vmcore.domain import VirtualMachine, VmState

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v1_events.json"


def v1_records() -> list[StoredEvent]:
    records = json.loads(FIXTURE.read_text())["events"]
    return [StoredEvent(originator_id=UUID(r["originator_id"]),
                        originator_version=r["originator_version"], topic=r["topic"],
                        state=base64.b64decode(r["state_base64"])) for r in records]


def test_v1_events_read_back_through_the_store_as_v2(vmcore_store_env: dict[str, str]) -> None:
    records = v1_records()
    with ControlPlane(vmcore_store_env, snapshot_interval=0) as cp:
        cp.recorder.insert_events(records)
        vm_id = records[0].originator_id
        created, allocated, started, stopped = cp.history(vm_id)

        assert isinstance(created, VirtualMachine.Created)
        assert ("legacy-1", "system", []) == (created.name, created.created_by, created.tags)
        assert "ram" == allocated.memory_type  # type: ignore[attr-defined]
        assert None is started.startup_time_ms  # type: ignore[attr-defined]
        assert (None, True) == (stopped.exit_code, stopped.force)  # type: ignore[attr-defined]

        vm = cp.get_vm(vm_id)
        assert (VmState.STOPPED, "destroyed", 4) == (vm.state, vm.reason, vm.version)
        assert ["ram"] == [region.memory_type for region in vm.memory_regions]

        vm.start(startup_time_ms=5)
        cp.save(vm)
        assert 5 == cp.history(vm_id)[-1].startup_time_ms  # type: ignore[attr-defined]
