"""Finding domain services: the ``vmcore.services`` entry-point group.

An installed distribution adds a service by declaring, in its ``pyproject.toml``::

    [project.entry-points."vmcore.services"]
    audit = "my_package.audit:AuditService"

Each entry is a zero-argument factory (usually the class) returning an object with a
``name`` and ``bus_handlers()``. vmcore's own services are declared the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from attrs import frozen

GROUP = "vmcore.services"


@frozen
class Discovered:
    """One entry point: its name, where it comes from, and how to load it."""

    name: str
    value: str
    distribution: str
    entry_point: EntryPoint | None = None

    def load(self) -> Callable[[], Any]:
        assert self.entry_point is not None
        factory: Callable[[], Any] = self.entry_point.load()
        return factory


def discover(group: str = GROUP) -> list[Discovered]:
    """Every entry point of ``group`` in the installed distributions, sorted by name (one
    per name: the first distribution found wins, as importlib.metadata orders them)."""
    found: dict[str, Discovered] = {}
    for ep in entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "?"
        found.setdefault(ep.name, Discovered(ep.name, ep.value, dist, ep))
    return [found[name] for name in sorted(found)]
