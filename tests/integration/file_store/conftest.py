"""Fixtures for the file store's integration tests: real directories, real processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from vmcore_event_store.file import FileInfrastructureFactory

OpenStore = Callable[..., FileInfrastructureFactory]


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[OpenStore]:
    """Opens factories on ``tmp_path / "store"`` (extra env as keywords); closes them after."""
    opened: list[FileInfrastructureFactory] = []

    def _open(path: Path | None = None, **env: str) -> FileInfrastructureFactory:
        values = {
            "PERSISTENCE_MODULE": "vmcore_event_store.file",
            "VMCORE_FILE_STORE_PATH": str(path or tmp_path / "store"),
            **env,
        }
        factory = InfrastructureFactory.construct(Environment(env=values))
        assert isinstance(factory, FileInfrastructureFactory)
        opened.append(factory)
        return factory

    yield _open
    for factory in opened:
        factory.close()
