"""A write that committed on PostgreSQL but whose reply was lost is a success, not a conflict.

A real TCP proxy on loopback sits between the ControlPlane and a real PostgreSQL server; it
lets the write through, throws away the server's reply (sent after the commit) and cuts the
connection. The recorder must find its own rows and report the write as done: no
``NameTaken`` for the VM it just created, no ``ConcurrencyConflict`` for the command it just
committed, and ``retry_on_conflict`` runs the intent once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import store_env
from tests.integration.faults.tcp_proxy import FaultyProxy
from vmcore.application import ConcurrencyConflict, ControlPlane, retry_on_conflict
from vmcore.domain import CommandContext, VirtualMachine, VmConfig, VmState

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxy() -> Iterator[FaultyProxy]:
    with FaultyProxy(os.environ["POSTGRES_HOST"], int(os.environ["POSTGRES_PORT"])) as proxy:
        yield proxy


@pytest.fixture
def env(proxy: FaultyProxy, tmp_path: Path) -> dict[str, str]:
    return store_env("postgres", tmp_path) | {
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(proxy.port),
    }


def _marked() -> tuple[CommandContext, bytes]:
    marker = f"lost-reply-{uuid.uuid4().hex}"
    return CommandContext(correlation_id=marker), marker.encode()


def test_a_created_vm_whose_reply_was_lost_is_created_not_name_taken(
        proxy: FaultyProxy, env: dict[str, str]) -> None:
    with ControlPlane(env, snapshot_interval=0) as cp:
        context, marker = _marked()
        proxy.drop_reply_after(marker)
        vm_id = cp.create_vm("web-1", VmConfig(), context=context)
        assert 1 == proxy.replies_dropped
        assert vm_id == cp.resolve("web-1")
        created = [e for e in cp.history(vm_id) if isinstance(e, VirtualMachine.Created)]
        assert [context.correlation_id] == [e.correlation_id for e in created]


def test_retry_on_conflict_runs_an_intent_whose_reply_was_lost_once(
        proxy: FaultyProxy, env: dict[str, str]) -> None:
    with ControlPlane(env, snapshot_interval=0) as cp:
        vm_id = cp.create_vm("web-1", VmConfig())
        context, marker = _marked()
        calls: list[int] = []

        def start() -> int:
            calls.append(1)
            return cp.start_vm(vm_id, context=context).version

        proxy.drop_reply_after(marker)
        assert 2 == retry_on_conflict(start)
        assert (1, 1) == (len(calls), proxy.replies_dropped)
        assert (VmState.RUNNING, 2) == (cp.get_vm(vm_id).state, cp.get_vm(vm_id).version)
        assert 2 == len(cp.history(vm_id))


def test_a_refused_write_whose_reply_was_lost_is_still_a_conflict(
        proxy: FaultyProxy, env: dict[str, str]) -> None:
    """The check compares bytes: another writer's event at our version is a conflict."""
    with ControlPlane(env, snapshot_interval=0) as cp:
        vm_id = cp.create_vm("web-1", VmConfig())
        stale = cp.get_vm(vm_id)
        cp.start_vm(vm_id)
        context, marker = _marked()
        stale.start(context=context)
        proxy.drop_reply_after(marker)
        with pytest.raises(ConcurrencyConflict):
            cp.save(stale)
        assert 1 == proxy.replies_dropped
        assert context.correlation_id not in [e.correlation_id for e in cp.history(vm_id)]
