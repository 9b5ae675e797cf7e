"""Store selection: from a spec such as ``file:/srv/vmcore`` or a DSN to eventsourcing's env.

Every store is an eventsourcing persistence module, so the ControlPlane (and any other
eventsourcing application) is configured the same way for each of them. Where data lives by
default does not depend on the working directory: ``VMCORE_HOME``, else the per-user data
directory (``platformdirs``: ``~/.local/share/vmcore`` on Linux). Machine snapshots live with
the store they belong to (:meth:`StoreSpec.machine_snapshot_dir`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from attrs import frozen

from vmcore.application.errors import ConfigurationError

STORE_KINDS = ("file", "sqlite", "postgres", "memory")
DEFAULT_STORE = "file"
HOME_VARIABLE = "VMCORE_HOME"
MACHINE_SNAPSHOTS_VARIABLE = "VMCORE_MACHINE_SNAPSHOTS"
PERSISTENCE_MODULES = {
    "file": "vmcore_event_store.file",
    "sqlite": "eventsourcing.sqlite",
    "postgres": "vmcore_event_store.postgres",
    "memory": "eventsourcing.popo",
}
SQLITE_RECORDER = "vmcore_event_store.sqlite_recorder:VmcoreSQLiteApplicationRecorder"
ORJSON_TRANSCODER = "vmcore_event_store.transcoder:OrjsonTranscoder"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.I)
_KEY_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('[^']*'|\S+)", re.I)


def redact(text: str) -> str:
    """``text`` with passwords in URLs and ``password=...`` pairs replaced by ``***``."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    return _KEY_PASSWORD.sub(r"\g<head>***", text)


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

    def redacted(self) -> str:
        """The spec as text, any password in a DSN replaced by ``***``."""
        text = self.location if "://" in self.location else str(self)
        return redact(text)

    def resolved(self, environ: Mapping[str, str] | None = None) -> StoreSpec:
        """The same store with its default location filled in (file and sqlite), as an
        absolute path: ``file`` is ``file:<home>``, ``sqlite`` ``sqlite:<home>/vmcore.sqlite``."""
        if self.kind == "file":
            return StoreSpec("file", str(Path(self.location or vmcore_home(environ)).resolve()))
        if self.kind == "sqlite":
            default = vmcore_home(environ) / "vmcore.sqlite"
            return StoreSpec("sqlite", str(Path(self.location or default).resolve()))
        return self

    def machine_snapshot_dir(self, environ: Mapping[str, str] | None = None) -> Path:
        """Where machine snapshots of this store's VMs live: ``<DIR>/machine-snapshots`` of a
        file store, beside a SQLite file, and ``<home>/machine-snapshots`` for PostgreSQL and
        memory (names start with the VM's id, so stores sharing it never collide).
        ``VMCORE_MACHINE_SNAPSHOTS`` overrides it."""
        environ = os.environ if environ is None else environ
        if environ.get(MACHINE_SNAPSHOTS_VARIABLE):
            return Path(environ[MACHINE_SNAPSHOTS_VARIABLE]).absolute()
        spec = self.resolved(environ)
        if spec.kind == "file":
            return Path(spec.location) / "machine-snapshots"
        if spec.kind == "sqlite":
            return Path(spec.location).parent / "machine-snapshots"
        return vmcore_home(environ) / "machine-snapshots"

    def env(self, *, environ: Mapping[str, str] | None = None,
            fsync: str | None = None) -> dict[str, str]:
        """The eventsourcing environment that selects and configures this store."""
        environ = os.environ if environ is None else environ
        spec = self.resolved(environ)
        env = {"PERSISTENCE_MODULE": PERSISTENCE_MODULES[self.kind],
               "TRANSCODER_TOPIC": environ.get("TRANSCODER_TOPIC", ORJSON_TRANSCODER)}
        if self.kind == "file":
            env["VMCORE_FILE_STORE_PATH"] = spec.location
            if fsync:
                env["VMCORE_FSYNC"] = fsync
        elif self.kind == "sqlite":
            path = Path(spec.location)
            path.parent.mkdir(parents=True, exist_ok=True)
            env["SQLITE_DBNAME"] = str(path)
            env["APPLICATION_RECORDER_TOPIC"] = SQLITE_RECORDER  # can be followed (subscribe)
        elif self.kind == "postgres":
            env.update(_postgres_env(self.location, environ))
            env["POSTGRES_CONNECT_TIMEOUT"] = environ.get("POSTGRES_CONNECT_TIMEOUT", "5")
            if environ.get("POSTGRES_SCHEMA"):
                env["POSTGRES_SCHEMA"] = environ["POSTGRES_SCHEMA"]
        return env


def vmcore_home(environ: Mapping[str, str] | None = None) -> Path:
    """``VMCORE_HOME``, else the per-user data directory for vmcore (never the cwd)."""
    environ = os.environ if environ is None else environ
    home = environ.get(HOME_VARIABLE)
    if home:
        return Path(home).absolute()
    if sys.platform.startswith("linux"):
        # What platformdirs answers on Linux (the XDG rule), without its import, which
        # pulls in tempfile, shutil, bz2 and lzma: a fifth of the CLI's start-up.
        data = environ.get("XDG_DATA_HOME", "").strip() or os.path.expanduser("~/.local/share")
        return Path(data) / "vmcore"
    import platformdirs

    return Path(platformdirs.user_data_dir("vmcore"))


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
    from vmcore_event_store.dsn import InvalidDsn, postgres_settings

    try:
        settings = postgres_settings(dsn)
    except InvalidDsn:
        shown = StoreSpec("postgres", dsn).redacted()
        raise ConfigurationError(f"not a PostgreSQL DSN: {shown!r}") from None
    if "POSTGRES_HOST" not in settings:
        shown = StoreSpec("postgres", dsn).redacted()
        raise ConfigurationError(f"not a PostgreSQL DSN (no host): {shown!r}")
    defaults = {"POSTGRES_PORT": "5432", "POSTGRES_USER": "", "POSTGRES_PASSWORD": "",
                "POSTGRES_DBNAME": "postgres"}
    return defaults | settings
