"""A hypothesis state machine for the VM lifecycle: subclass it to test your own code.

It drives VMs through a :class:`~vmcore.application.ControlPlane` with random legal and
illegal commands and checks the domain's invariants after every step: the live VM equals
its replay and its snapshot-plus-tail; refused commands record nothing; the version equals
the number of events; memory regions never overlap nor exceed the configured size; deleted
is terminal; and the state follows the lifecycle table.

Override :meth:`make_control_plane` to run it on your store, or add rules and invariants
for your own services (see docs/testing.md).
"""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from vmcore.application import ControlPlane
from vmcore.domain import (
    DomainError,
    IllegalTransition,
    VirtualMachine,
    VmConfig,
    VmState,
)
from vmcore.domain.lifecycle import TRANSITIONS, state_after
from vmcore.testing.strategies import command_arguments, command_names, vm_configs


class VmLifecycleMachine(RuleBasedStateMachine):
    """Random lifecycles over real stores, with the domain's invariants (docs/testing.md)."""

    vms = Bundle("vms")

    def __init__(self) -> None:
        super().__init__()
        self.control_plane = self.make_control_plane()
        self.expected_state: dict[UUID, VmState] = {}
        self.counter = 0
        self.last_vm: UUID | None = None

    def make_control_plane(self) -> ControlPlane:
        """The application under test: in memory with a snapshot every 3 events unless a
        subclass says otherwise."""
        return ControlPlane({"PERSISTENCE_MODULE": "eventsourcing.popo"}, snapshot_interval=3)

    def teardown(self) -> None:
        self.control_plane.close()

    @rule(target=vms, config=vm_configs())
    def create(self, config: VmConfig) -> UUID:
        self.counter += 1
        vm_id = self.control_plane.create_vm(f"vm-{self.counter}", config)
        self.expected_state[vm_id] = VmState.CREATED
        self.last_vm = vm_id
        return vm_id

    @rule(vm_id=vms, command=command_names(), data=st.data())
    def command(self, vm_id: UUID, command: str, data: st.DataObject) -> None:
        kwargs = data.draw(command_arguments(command))
        self.run_command(vm_id, command, kwargs)

    @precondition(lambda self: bool(self.expected_state))
    @rule(vm_id=consumes(vms))
    def delete(self, vm_id: UUID) -> None:
        self.run_command(vm_id, "delete", {})

    def run_command(self, vm_id: UUID, command: str, kwargs: dict[str, Any]) -> None:
        """Run one command and check the refusal rules; subclasses may call it too."""
        self.last_vm = vm_id
        before = self.control_plane.get_vm(vm_id)
        allowed = before.state in TRANSITIONS[command].sources
        try:
            self.control_plane.execute(vm_id, lambda vm: getattr(vm, command)(**kwargs))
        except IllegalTransition:
            assert not allowed, f"{command} refused in {before.state} but the table allows it"
            self._assert_nothing_recorded(before)
            return
        except DomainError:
            assert allowed, f"{command} in {before.state}: wrong kind of refusal"
            self._assert_nothing_recorded(before)
            return
        assert allowed, f"{command} accepted in {before.state} but the table forbids it"
        recorded = self.control_plane.history(vm_id)[before.version:]
        assert [TRANSITIONS[command].event] == [type(event).__name__ for event in recorded]
        after = state_after(recorded[-1])
        self.expected_state[vm_id] = before.state if after is None else after[0]

    def _assert_nothing_recorded(self, before: VirtualMachine) -> None:
        after = self.control_plane.get_vm(before.id)
        assert before.version == after.version
        assert len(self.control_plane.history(before.id)) == before.version
        assert before == after

    @invariant()
    def last_vm_replays_to_its_live_state(self) -> None:
        if self.last_vm is None:
            return
        live = self.control_plane.get_vm(self.last_vm)
        assert self.control_plane.replay_vm(self.last_vm) == live
        assert self.expected_state[self.last_vm] == live.state

    @invariant()
    def version_equals_event_count(self) -> None:
        if self.last_vm is not None:
            vm = self.control_plane.get_vm(self.last_vm)
            assert len(self.control_plane.history(self.last_vm)) == vm.version

    @invariant()
    def memory_regions_fit_and_do_not_overlap(self) -> None:
        if self.last_vm is None:
            return
        vm = self.control_plane.get_vm(self.last_vm)
        regions = vm.memory_regions
        assert all(region.end <= vm.config.memory for region in regions)
        for first, second in itertools.pairwise(regions):
            assert first.end <= second.base

    @invariant()
    def deleted_is_terminal(self) -> None:
        for vm_id, state in self.expected_state.items():
            if state is VmState.DELETED:
                vm = self.control_plane.get_vm(vm_id)
                assert vm.state is VmState.DELETED
                assert not any(vm.can(command) for command in TRANSITIONS)
