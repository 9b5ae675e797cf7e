"""Packages that name their public API but import each name's module on first use (PEP 562),
so importing a package costs nothing until a name is used (``vmcore`` start-up depends on
it; see docs/performance.md, CLI start-up)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, modules: Mapping[str, str]) -> Callable[[str], object]:
    """The module ``__getattr__`` for ``package``: ``modules`` maps each exported name to the
    module defining it; a name is imported once, then kept in the package's namespace.

    Use: ``__getattr__ = lazy_exports(__name__, {"ControlPlane": "vmcore.application..."})``.
    """

    def __getattr__(name: str) -> object:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
