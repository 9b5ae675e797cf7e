"""Real stores for the ControlPlane: SQLite and the file store in a temp dir, PostgreSQL in
a fresh schema of the server that ``make test`` starts (``scripts/with-postgres``)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest

from vmcore.composition import StoreSpec

STORE_KINDS = ["memory", "sqlite", "file", "postgres"]
PERSISTENT_KINDS = [kind for kind in STORE_KINDS if kind != "memory"]
SHARED_WRITER_KINDS = ["sqlite", "file", "postgres"]
"""Stores that several writer processes may use at once (all but the in-memory one)."""


def postgres_conninfo() -> str:
    missing = [k for k in ("POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_DBNAME")
               if not os.environ.get(k)]
    if missing:
        pytest.fail(f"PostgreSQL tests need {', '.join(missing)}: run them with `make test`"
                    " or scripts/with-postgres")
    return (f"host={os.environ['POSTGRES_HOST']} port={os.environ.get('POSTGRES_PORT', '5432')}"
            f" user={os.environ['POSTGRES_USER']}"
            f" password={os.environ.get('POSTGRES_PASSWORD', '')}"
            f" dbname={os.environ['POSTGRES_DBNAME']}")


def create_schema(prefix: str = "test") -> str:
    """A fresh, empty PostgreSQL schema (the server's data is thrown away after the run)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_conninfo(), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    return schema


def store_env(kind: str, tmp_path: Path) -> dict[str, str]:
    """eventsourcing env for an empty store of ``kind`` (under ``tmp_path`` when on disk)."""
    if kind == "file":
        return StoreSpec("file", str(tmp_path / "store")).env()
    if kind == "sqlite":
        return StoreSpec("sqlite", str(tmp_path / "vmcore.sqlite")).env()
    if kind == "postgres":
        return StoreSpec("postgres").env() | {"POSTGRES_SCHEMA": create_schema()}
    return StoreSpec("memory").env()


@pytest.fixture(params=STORE_KINDS)
def vmcore_store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """eventsourcing env selecting each real store in turn."""
    return store_env(request.param, tmp_path)


@pytest.fixture(params=PERSISTENT_KINDS)
def persistent_store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """eventsourcing env selecting each store that other processes can share."""
    return store_env(request.param, tmp_path)


@pytest.fixture(params=SHARED_WRITER_KINDS)
def shared_writer_store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """eventsourcing env selecting each store that several writer processes can share."""
    return store_env(request.param, tmp_path)
