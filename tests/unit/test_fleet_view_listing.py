"""The fleet view's rows equal every VM's summary from its aggregate, whatever happened since
it was last read, and its no-I/O answer (what ``GET /v1/vms`` serves) equals them too."""

from __future__ import annotations

from uuid import UUID

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.application.control_plane import ControlPlane
from vmcore.application.errors import VmcoreError
from vmcore.application.fleet_view import VmSummary, decode_rows, encode_rows, uuid_from_hex
from vmcore.composition import StoreSpec
from vmcore.domain import DomainError, VmConfig, VmState

STEPS = st.lists(st.tuples(st.sampled_from(["create", "start", "pause", "resume", "stop",
                                            "delete", "look"]), st.integers(0, 3)),
                 max_size=30)


def _truth(cp: ControlPlane, include_deleted: bool) -> list[VmSummary]:
    vms = [cp.get_vm(vm_id) for vm_id in cp.vm_ids()]
    return [VmSummary.of(vm) for vm in vms
            if include_deleted or vm.state is not VmState.DELETED]


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_the_listing_matches_the_aggregates(steps: list[tuple[str, int]]) -> None:
    cp = ControlPlane(StoreSpec("memory").env())
    try:
        for action, n in steps:
            name = f"vm-{n}"
            try:
                if action == "create":
                    cp.create_vm(name, VmConfig(vcpus=1 + n))
                elif action != "look":
                    getattr(cp, f"{action}_vm")(name)
            except (DomainError, VmcoreError):
                pass  # refused: nothing recorded
            head = cp.recorder.max_notification_id() or 0
            for deleted in (False, True):
                expected = _truth(cp, deleted)
                assert expected == cp.list_vms(include_deleted=deleted)
                assert expected == cp.cached_vms(head, include_deleted=deleted)
            assert None is cp.cached_vms(head + 1)  # a commit it has not seen yet
    finally:
        cp.close()


@given(st.uuids())
def test_uuid_from_hex_equals_the_uuid(value: UUID) -> None:
    rebuilt = uuid_from_hex(value.hex)
    assert (value, hash(value), str(value)) == (rebuilt, hash(rebuilt), str(rebuilt))


def test_rows_survive_their_stored_columns() -> None:
    cp = ControlPlane(StoreSpec("memory").env())
    try:
        for i in range(3):
            cp.start_vm(cp.create_vm(f"vm-{i}", VmConfig(vcpus=i + 1, memory=(i + 1) << 20)))
        rows = cp.list_vms()
        stored = orjson.loads(orjson.dumps(encode_rows(rows)))
        assert {row.id.hex: row for row in rows} == decode_rows(stored)
    finally:
        cp.close()
