"""A content-addressed store for machine snapshots (registers, CSRs, memory pages).

Page contents are stored once per distinct content, under their SHA-256, so a diff
snapshot adds only the pages that changed, and identical pages across snapshots and VMs
are shared. Each snapshot is a manifest (its primitives and the digests it uses) written
after every blob it names. Every file is written to a temporary name, fsynced and renamed,
so a crash leaves either the whole file or none; a blob whose content does not match its
name is reported as corruption, never returned.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

__all__ = ["MachineSnapshotStore", "SnapshotStoreError"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class SnapshotStoreError(Exception):
    """A snapshot is missing, misnamed or damaged."""


class MachineSnapshotStore:
    """Snapshots under ``directory``: ``blobs/<2 hex>/<sha256>`` and ``manifests/<name>.json``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._blobs = self.directory / "blobs"
        self._manifests = self.directory / "manifests"

    def put(self, name: str, manifest: Mapping[str, Any], blobs: Mapping[str, bytes]) -> int:
        """Store ``blobs`` (digest -> content) and then the manifest; returns the bytes of
        page content actually written (content already stored is not written again)."""
        _check_name(name)
        written = 0
        for digest, data in blobs.items():
            if hashlib.sha256(data).hexdigest() != digest:
                raise SnapshotStoreError(f"blob content does not match its digest {digest}")
            path = self._blob_path(digest)
            if not path.exists():
                _write_durably(path, data)
                written += len(data)
        _write_durably(self._manifests / f"{name}.json", orjson.dumps(dict(manifest)))
        return written

    def manifest(self, name: str) -> dict[str, Any]:
        _check_name(name)
        path = self._manifests / f"{name}.json"
        try:
            data: dict[str, Any] = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise SnapshotStoreError(f"no machine snapshot {name!r} in {self.directory}") from None
        except orjson.JSONDecodeError as error:
            raise SnapshotStoreError(f"machine snapshot manifest {path} is damaged: {error}"
                                     ) from None
        return data

    def blob(self, digest: str) -> bytes:
        path = self._blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SnapshotStoreError(f"page content {digest} is missing from {path.parent}"
                                     ) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise SnapshotStoreError(f"page content in {path} is damaged (checksum mismatch)")
        return data

    def names(self) -> list[str]:
        if not self._manifests.is_dir():
            return []
        return sorted(path.stem for path in self._manifests.glob("*.json"))

    def _blob_path(self, digest: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise SnapshotStoreError(f"not a SHA-256 digest: {digest!r}")
        return self._blobs / digest[:2] / digest


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise SnapshotStoreError(
            f"snapshot name {name!r} is not valid: letters, digits, '.', '_', '-'")


def _write_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
