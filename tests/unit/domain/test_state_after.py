"""One source for the state after each event: the aggregate, the fleet statistics and the
testing state machine all read :func:`vmcore.domain.lifecycle.state_after`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vmcore.domain import DomainError, VirtualMachine, VmConfig, VmState
from vmcore.domain.lifecycle import TRANSITIONS, state_after
from vmcore.testing.strategies import command_arguments, command_names
from vmcore_domain_services.lifecycle import LifecycleStatistics


def test_every_state_changing_row_of_the_table_has_its_event_state() -> None:
    names = {row.event: row.target for row in TRANSITIONS.values() if row.target}
    events = {name: type(name, (), {"reason": "r", "resumed": False})() for name in names}
    after = {name: state_after(event) for name, event in events.items()}
    assert names == {name: None if pair is None else pair[0] for name, pair in after.items()}


@settings(max_examples=60, deadline=None)
@given(commands=st.lists(command_names(), max_size=25), data=st.data())
def test_statistics_follow_the_aggregate_event_by_event(
    commands: list[str], data: st.DataObject
) -> None:
    vm = VirtualMachine.create("web-1", VmConfig())
    statistics = LifecycleStatistics()
    for event in vm.collect_events():
        statistics.handle(event)
    for command in commands:
        try:
            getattr(vm, command)(**data.draw(command_arguments(command)))
        except DomainError:
            continue
        for event in vm.collect_events():
            statistics.handle(event)
        assert {vm.id: vm.state} == statistics.states
    starts = sum(1 for c in commands if c == "start")
    assert starts >= statistics.starts
    assert {vm.state.value: 1} == statistics.counts()


def test_a_resumed_restore_ends_running_and_counts_running_time() -> None:
    vm = VirtualMachine.create("web-1", VmConfig())
    vm.start()
    vm.pause()
    vm.snapshot("s1")
    vm.stop()
    vm.restore("s1", resume=True)
    statistics = LifecycleStatistics()
    for event in vm.collect_events():
        statistics.handle(event)
    assert (VmState.RUNNING, None) == (vm.state, vm.reason)
    assert {vm.id: VmState.RUNNING} == statistics.states
    assert 1 == statistics.starts
    assert 0 <= statistics.running_seconds
