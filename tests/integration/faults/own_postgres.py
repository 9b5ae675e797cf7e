"""A PostgreSQL server of the test's own, so the test may kill it (run by the soak only).

initdb in a temporary directory under /tmp, started on a free loopback port (as the ``postgres``
account when this process is root, as scripts/with-postgres does); :meth:`crash` stops it
with ``pg_ctl -m immediate`` (no checkpoint, no clean shutdown: what a kill leaves) and
:meth:`start` brings it back, recovering from its WAL.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _pg_bin() -> Path:
    for directory in ["/usr/lib/postgresql/15/bin", *glob.glob("/usr/lib/postgresql/*/bin")]:
        if os.access(os.path.join(directory, "initdb"), os.X_OK):
            return Path(directory)
    raise RuntimeError("PostgreSQL is not installed (postgresql-15)")


class OwnPostgres:
    def __init__(self) -> None:
        # Not under pytest's tmp_path: the postgres account cannot enter root's 0700 tree.
        self.directory = Path(tempfile.mkdtemp(prefix="vmcore-soak-pg."))
        self.bin = _pg_bin()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def __enter__(self) -> OwnPostgres:
        if self.as_user:
            shutil.chown(self.directory, "postgres")
        password = self.directory / "pwfile"
        password.write_text("vmcore\n")
        if self.as_user:
            shutil.chown(password, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.directory / "data"), "-U", "vmcore",
                  f"--pwfile={password}", "--auth=scram-sha-256", "-E", "UTF8")
        self.start()
        subprocess.run([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                        "vmcore", "-d", "postgres", "-qc", "CREATE DATABASE vmcore"],
                       check=True, capture_output=True, env={**os.environ,
                                                             "PGPASSWORD": "vmcore"})
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D",
                        str(self.directory / "data"), "-m", "immediate", "stop"],
                       capture_output=True, check=False, timeout=120)
        shutil.rmtree(self.directory, ignore_errors=True)

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-w", "-l",
                  str(self.directory / "server.log"), "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}", "start")

    def crash(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-m",
                  "immediate", "stop")

    def env(self) -> dict[str, str]:
        return {"PERSISTENCE_MODULE": "vmcore_event_store.postgres",
                "TRANSCODER_TOPIC": "vmcore_event_store.transcoder:OrjsonTranscoder",
                "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.port),
                "POSTGRES_USER": "vmcore", "POSTGRES_PASSWORD": "vmcore",
                "POSTGRES_DBNAME": "vmcore", "POSTGRES_CONNECT_TIMEOUT": "1"}
