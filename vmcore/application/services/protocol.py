"""What a domain service is, for type checkers (the manager checks it at run time)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

Handler = Callable[[Any], Any]


class DomainService(Protocol):
    """``name`` and ``bus_handlers()``; ``configure``, ``start``, ``stop`` and ``health``
    are optional and looked up by name."""

    @property
    def name(self) -> str: ...

    def bus_handlers(self) -> Mapping[str, Handler]: ...
