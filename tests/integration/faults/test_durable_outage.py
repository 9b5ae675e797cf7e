"""Durable subscriptions survive outages and record positions from reader processes.

* PostgreSQL: the subscriber reaches the server through a real TCP proxy on loopback; the
  proxy cuts every connection and refuses new ones while a writer (connected directly)
  keeps committing. The subscriber must report the outage (state ``retrying``), retry
  with backoff, and after the proxy comes back deliver every event once, in order.
* File store: the subscriber runs in a process that is not the writer (a writer process
  holds the lock); it must record its position anyway and resume from it after a restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from tests.integration.conftest import store_env
from tests.integration.faults.tcp_proxy import FaultyProxy
from vmcore.application import ControlPlane
from vmcore.bus import DurableState, DurableStatus, UnifiedEventBus
from vmcore.composition import StoreSpec
from vmcore.domain import VmConfig, VmEvent, VmState

WRITER = Path(__file__).with_name("file_writer_proc.py")


def _toggle(cp: ControlPlane, vm_id: UUID, times: int) -> None:
    for _ in range(times):
        if cp.get_vm(vm_id).state is VmState.RUNNING:
            cp.pause_vm(vm_id)
        else:
            cp.resume_vm(vm_id)


@pytest.fixture
def proxy() -> Iterator[FaultyProxy]:
    with FaultyProxy(os.environ["POSTGRES_HOST"], int(os.environ["POSTGRES_PORT"])) as proxy:
        yield proxy


@pytest.mark.postgres
def test_a_durable_subscription_survives_a_postgres_outage(
        proxy: FaultyProxy, tmp_path: Path) -> None:
    direct = store_env("postgres", tmp_path)
    via_proxy = direct | {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(proxy.port),
                          "POSTGRES_CONNECT_TIMEOUT": "1"}
    seen: list[tuple[UUID, int]] = []

    def audit(event: VmEvent) -> None:
        seen.append((event.originator_id, event.originator_version))

    with ControlPlane(direct, snapshot_interval=0) as writer, \
            ControlPlane(via_proxy, snapshot_interval=0) as follower:
        vm_id = writer.create_vm("web-1", VmConfig())
        writer.start_vm(vm_id)
        bus = UnifiedEventBus()
        durable = bus.subscribe_durable("audit", audit, ["vm.*"], application=follower)
        try:
            durable.wait(writer.recorder.max_notification_id() or 0, timeout=60)
            proxy.outage()
            _toggle(writer, vm_id, 10)  # committed while the subscriber cannot reach them
            assert durable.wait_for(lambda s: s.outages >= 1, timeout=120), durable.status()
            assert DurableState.RETRYING == durable.status().state
            proxy.restore()
            _toggle(writer, vm_id, 5)
            durable.wait(writer.recorder.max_notification_id() or 0, timeout=120)
            status = durable.status()
        finally:
            bus.stop()
        expected = [(vm_id, version) for version in range(1, 18)]
        assert expected == seen
        assert (DurableState.RUNNING, 17) == (status.state, status.processed)
        assert status.last_error is not None


def _follow(env: dict[str, str], seen: list[int], last: int) -> DurableStatus:
    with ControlPlane(env, snapshot_interval=0) as reader:
        bus = UnifiedEventBus()
        durable = bus.subscribe_durable(
            "audit", lambda e: seen.append(e.originator_version), ["vm.*"], application=reader)
        try:
            durable.wait(last, timeout=60)
            return durable.status()
        finally:
            bus.stop()


def test_a_reader_process_records_its_position_while_another_process_writes(
        tmp_path: Path) -> None:
    env = StoreSpec("file", str(tmp_path / "store")).env()
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(tmp_path / "store")], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert writer.stdin is not None and writer.stdout is not None
    try:
        last = int(writer.stdout.readline())  # created and toggled: holds the writer lock
        first: list[int] = []
        status = _follow(env, first, last)
        assert (DurableState.RUNNING, None) == (status.state, status.last_error)
        writer.stdin.write("more\n")
        writer.stdin.flush()
        last = int(writer.stdout.readline())
        again: list[int] = []
        _follow(env, again, last)  # a restart: resumes after its recorded position
        assert list(range(1, 6)) == first
        assert list(range(6, 10)) == again
    finally:
        writer.stdin.close()
        assert 0 == writer.wait(timeout=60)
