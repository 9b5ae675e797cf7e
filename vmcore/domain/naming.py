"""VM names: what a valid name is, and the name-claim aggregate that keeps names unique.

Uniqueness is enforced by the event store itself: each name maps (uuid5) to one
:class:`VmName` aggregate whose first event is written in the same atomic save as the VM's
``Created`` event, so two creators racing for a name conflict on the store's
(originator id, version) constraint; exactly one wins.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, AggregateCreated, AggregateEvent

from vmcore.domain.errors import InvalidValue

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def check_vm_name(name: str) -> None:
    """Raise :class:`InvalidValue` unless ``name`` is a DNS-label-like VM name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidValue(
            f"VM name {name!r} is not valid: use 1-63 lowercase letters, digits and '-',"
            " starting and ending with a letter or digit"
        )


def name_claim_id(name: str) -> UUID:
    """The id of the :class:`VmName` aggregate for ``name`` (deterministic)."""
    return uuid5(NAMESPACE_URL, f"vmcore:vm-name:{name}")


class VmName(Aggregate):
    """The claim on one VM name: who holds it now, if anyone."""

    class Claimed(AggregateCreated):
        bus_topic: ClassVar[str] = "vm_name.claimed"
        name: str
        vm_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name
            aggregate.vm_id = self.vm_id

    class Reclaimed(AggregateEvent):
        bus_topic: ClassVar[str] = "vm_name.reclaimed"
        vm_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.vm_id = self.vm_id

    class Released(AggregateEvent):
        bus_topic: ClassVar[str] = "vm_name.released"

        def apply(self, aggregate: Any) -> None:
            aggregate.vm_id = None

    name: str
    vm_id: UUID | None

    @classmethod
    def claim(cls, name: str, vm_id: UUID) -> VmName:
        return cls._create(cls.Claimed, id=name_claim_id(name), name=name, vm_id=vm_id)

    def reclaim(self, vm_id: UUID) -> None:
        if self.vm_id is not None:
            raise InvalidValue(f"VM name {self.name!r} is taken")
        self.trigger_event(self.Reclaimed, vm_id=vm_id)

    def release(self) -> None:
        self.trigger_event(self.Released)
