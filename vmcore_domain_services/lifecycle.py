"""Lifecycle statistics: a fleet view folded from VM events as they cross the bus.

A pure service: it keeps per-VM state from the events it is handed (their timestamps are
its only clock) and answers how many VMs are in each state, how often they started and
crashed, and how long they have been running in total.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from vmcore.domain import VirtualMachine, VmEvent, VmState
from vmcore.domain.lifecycle import state_after
from vmcore.domain.topics import VM_EVENTS


class LifecycleStatistics:
    """Counts VMs per state, starts, crashes, and accumulated running time."""

    name = "lifecycle"

    def __init__(self) -> None:
        self.states: dict[UUID, VmState] = {}
        self.starts = 0
        self.crashes = 0
        self.running_seconds = 0.0
        self._running_since: dict[UUID, datetime] = {}

    def bus_handlers(self) -> Mapping[str, Callable[[Any], None]]:
        return {VM_EVENTS: self.handle}

    def handle(self, event: Any) -> None:
        if not isinstance(event, VmEvent):
            return
        after = state_after(event)
        if after is None:
            return
        state = after[0]
        vm_id = event.originator_id
        if isinstance(event, VirtualMachine.Started):
            self.starts += 1
        if isinstance(event, VirtualMachine.Crashed):
            self.crashes += 1
        since = self._running_since.pop(vm_id, None)
        if since is not None:
            self.running_seconds += (event.timestamp - since).total_seconds()
        if state is VmState.RUNNING:
            self._running_since[vm_id] = event.timestamp
        self.states[vm_id] = state

    def counts(self) -> dict[str, int]:
        """VMs per state name, for every state that has at least one VM."""
        return dict(sorted(Counter(state.value for state in self.states.values()).items()))
