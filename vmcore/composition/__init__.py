"""Composition: the dependency-injector container and the store specs it builds stores from."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vmcore.composition.container import Container
    from vmcore.composition.stores import StoreSpec

# Names load on first use (PEP 562): the CLI's error reporting needs ``stores.redact``
# without the container and dependency-injector.
_LAZY = {"Container": "vmcore.composition.container", "StoreSpec": "vmcore.composition.stores"}

__all__ = ["Container", "StoreSpec"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
