"""The bus topics of domain events, read from the event classes (each one's ``bus_topic``).

Code outside the domain names a topic through its class (``VirtualMachine.Stopped.bus_topic``)
or :data:`VM_EVENTS`, never as a literal, so a renamed event cannot leave a subscriber
listening for a topic nothing publishes; ``tests/unit/test_topics.py`` checks every service's
subscriptions against :func:`domain_topics`.
"""

from __future__ import annotations

from vmcore.domain.events import VmEvent
from vmcore.domain.naming import VmName

VM_EVENTS = VmEvent.bus_topic.split(".")[0] + ".*"
"""The pattern every VM event's topic matches (``vm.*``)."""


def _with_subclasses(cls: type[VmEvent]) -> list[type[VmEvent]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _with_subclasses(sub)
    return found


def domain_topics() -> frozenset[str]:
    """Every topic a domain event is published under."""
    names = (VmName.Claimed, VmName.Reclaimed, VmName.Released)
    return frozenset(
        [cls.bus_topic for cls in _with_subclasses(VmEvent)[1:]]
        + [cls.bus_topic for cls in names]
    )
