"""Real processes racing on one store: names stay unique, versions have one winner."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from uuid import UUID

from vmcore.application import ConcurrencyConflict, ControlPlane, NameTaken
from vmcore.domain import VmConfig

WRITERS = 6


def _create(env: dict[str, str], name: str) -> str:
    with ControlPlane(env, snapshot_interval=0) as cp:
        try:
            return str(cp.create_vm(name, VmConfig()))
        except NameTaken:
            return "taken"


def _start_stale(env: dict[str, str], vm_id: str, barrier: object) -> str:
    with ControlPlane(env, snapshot_interval=0) as cp:
        vm = cp.get_vm(UUID(vm_id))
        barrier.wait()  # type: ignore[attr-defined]
        vm.add_device("net0", "virtio-net")
        try:
            cp.save(vm)
        except ConcurrencyConflict:
            return "conflict"
        return "won"


def test_racing_creators_get_one_vm_per_name(shared_writer_store_env: dict[str, str]) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WRITERS, mp_context=context) as pool:
        results = list(pool.map(_create, [shared_writer_store_env] * WRITERS,
                                ["contested"] * WRITERS))
    winners = [result for result in results if result != "taken"]
    assert 1 == len(winners)
    with ControlPlane(shared_writer_store_env) as cp:
        assert [UUID(winners[0])] == [vm.id for vm in cp.list_vms()]


def test_racing_writers_on_one_version_have_exactly_one_winner(
        shared_writer_store_env: dict[str, str]) -> None:
    with ControlPlane(shared_writer_store_env) as cp:
        vm_id = str(cp.create_vm("web-1", VmConfig()))
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(WRITERS)
        with ProcessPoolExecutor(WRITERS, mp_context=context) as pool:
            results = list(pool.map(_start_stale, [shared_writer_store_env] * WRITERS,
                                    [vm_id] * WRITERS, [barrier] * WRITERS))
    assert (1, WRITERS - 1) == (results.count("won"), results.count("conflict"))
    with ControlPlane(shared_writer_store_env) as cp:
        assert 2 == cp.get_vm(UUID(vm_id)).version
