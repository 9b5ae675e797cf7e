"""Store selection: from a spec such as ``file:./.vmcore`` or a DSN to eventsourcing's env.

Every store is an eventsourcing persistence module, so the ControlPlane (and any other
eventsourcing application) is configured the same way for each of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from attrs import frozen

from vmcore.application.errors import ConfigurationError

STORE_KINDS = ("file", "sqlite", "postgres", "memory")
DEFAULT_STORE = "file"
DEFAULT_PATH = "./.vmcore"
PERSISTENCE_MODULES = {
    "file": "vmcore_event_store.file",
    "sqlite": "eventsourcing.sqlite",
    "postgres": "vmcore_event_store.postgres",
    "memory": "eventsourcing.popo",
}
SQLITE_RECORDER = "vmcore_event_store.sqlite_recorder:VmcoreSQLiteApplicationRecorder"
ORJSON_TRANSCODER = "vmcore_event_store.transcoder:OrjsonTranscoder"
_POSTGRES_KEYS = ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD",
                  "POSTGRES_DBNAME")


@frozen
class StoreSpec:
    """Which store, and where: ``kind`` is one of :data:`STORE_KINDS`; ``location`` is a
    directory (file), a database file (sqlite), a DSN or empty (postgres), or empty."""

    kind: str
    location: str = ""

    @classmethod
    def parse(cls, text: str) -> StoreSpec:
        """``file[:DIR]``, ``sqlite[:FILE]``, ``postgres[:DSN]``, ``postgresql://...``,
        ``memory``."""
        if text.startswith(("postgres://", "postgresql://")):
            return cls("postgres", text)
        kind, _, location = text.partition(":")
        if kind not in STORE_KINDS:
            raise ConfigurationError(
                f"unknown store {text!r}: use file[:DIR], sqlite[:FILE], postgres[:DSN] or memory"
            )
        return cls(kind, location)

    def __str__(self) -> str:
        return f"{self.kind}:{self.location}" if self.location else self.kind

    def env(self, *, environ: Mapping[str, str] | None = None,
            fsync: str | None = None) -> dict[str, str]:
        """The eventsourcing environment that selects and configures this store."""
        environ = os.environ if environ is None else environ
        env = {"PERSISTENCE_MODULE": PERSISTENCE_MODULES[self.kind],
               "TRANSCODER_TOPIC": environ.get("TRANSCODER_TOPIC", ORJSON_TRANSCODER)}
        if self.kind == "file":
            env["VMCORE_FILE_STORE_PATH"] = self.location or DEFAULT_PATH
            if fsync:
                env["VMCORE_FSYNC"] = fsync
        elif self.kind == "sqlite":
            path = Path(self.location or f"{DEFAULT_PATH}/vmcore.sqlite")
            path.parent.mkdir(parents=True, exist_ok=True)
            env["SQLITE_DBNAME"] = str(path)
            env["APPLICATION_RECORDER_TOPIC"] = SQLITE_RECORDER  # can be followed (subscribe)
        elif self.kind == "postgres":
            env.update(_postgres_env(self.location, environ))
            env["POSTGRES_CONNECT_TIMEOUT"] = environ.get("POSTGRES_CONNECT_TIMEOUT", "5")
            if environ.get("POSTGRES_SCHEMA"):
                env["POSTGRES_SCHEMA"] = environ["POSTGRES_SCHEMA"]
        return env


def _postgres_env(dsn: str, environ: Mapping[str, str]) -> dict[str, str]:
    dsn = dsn or environ.get("VMCORE_POSTGRES_DSN", "") or environ.get("POSTGRES_DSN", "")
    if not dsn:
        missing = [key for key in ("POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_DBNAME")
                   if not environ.get(key)]
        if missing:
            raise ConfigurationError(
                "the postgres store needs a DSN (postgres://user:password@host:port/db) or"
                f" the variables {', '.join(_POSTGRES_KEYS)}; missing {', '.join(missing)}"
            )
        return {key: environ[key] for key in _POSTGRES_KEYS if key in environ}
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        raise ConfigurationError(f"not a PostgreSQL DSN: {dsn!r}")
    return {
        "POSTGRES_HOST": parts.hostname,
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or ""),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
    }
