"""Composition: the dependency-injector container and the store specs it builds stores from."""

from vmcore.composition.container import Container
from vmcore.composition.stores import StoreSpec

__all__ = ["Container", "StoreSpec"]
