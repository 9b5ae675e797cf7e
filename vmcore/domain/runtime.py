"""Runtime events: high-volume facts that travel the bus but are never persisted.

Domain services (the MMU, the translator, the executor) report what happened through a
:class:`RuntimePublisher` they are given; they never import the bus. A runtime event carries
its dotted bus topic (``mmu.page_fault``, ``exec.block_translated``), the VM it concerns (if
any) and a payload of primitives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from uuid import UUID

from attrs import field, frozen


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


@frozen
class RuntimeEvent:
    """A transient event: TLB flushed, page fault, block translated, vCPU exited."""

    bus_topic: str
    vm_id: UUID | None = None
    data: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)


class RuntimePublisher(Protocol):
    """Where a domain service sends its runtime events (the bus, or a fake in tests)."""

    def __call__(self, event: RuntimeEvent, /) -> None: ...


def discard_runtime_event(event: RuntimeEvent, /) -> None:
    """A publisher that drops every event: the default when nothing listens."""


def topic_of(event: object) -> str:
    """The dotted bus topic of any event that travels the bus.

    Domain events declare it as the class attribute ``bus_topic`` (``vm.started``); runtime
    and system events carry it as an attribute of the instance.
    """
    topic = getattr(event, "bus_topic", None)
    if not isinstance(topic, str):
        raise TypeError(f"{type(event).__qualname__} has no bus topic (a 'bus_topic' str)")
    return topic
