"""The infrastructure factory: ``PERSISTENCE_MODULE=vmcore_event_store.file``.

Configuration comes from the environment exactly as for eventsourcing's own modules: each
key may be prefixed with the upper-cased application name (``CONTROLPLANE_VMCORE_FSYNC``
wins over ``VMCORE_FSYNC`` for an application named ``ControlPlane``).
"""

from __future__ import annotations

import os
import re

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic

from vmcore_event_store.file.log import FsyncPolicy
from vmcore_event_store.file.recorders import (
    FileAggregateRecorder,
    FileApplicationRecorder,
    FileProcessRecorder,
    FileTrackingRecorder,
)
from vmcore_event_store.file.store import FileStore

__all__ = ["FileInfrastructureFactory"]

_LOG_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class FileInfrastructureFactory(InfrastructureFactory[FileTrackingRecorder]):
    """Builds recorders over a durable file store directory."""

    VMCORE_FILE_STORE_PATH = "VMCORE_FILE_STORE_PATH"
    VMCORE_FSYNC = "VMCORE_FSYNC"
    VMCORE_FILE_SEGMENT_BYTES = "VMCORE_FILE_SEGMENT_BYTES"
    VMCORE_FILE_POLL_INTERVAL = "VMCORE_FILE_POLL_INTERVAL"
    VMCORE_FSYNC_GROUP_WINDOW = "VMCORE_FSYNC_GROUP_WINDOW"
    VMCORE_FILE_LOCK_TIMEOUT = "VMCORE_FILE_LOCK_TIMEOUT"
    VMCORE_FILE_INDEX_CHECKPOINT = "VMCORE_FILE_INDEX_CHECKPOINT"
    DEFAULT_PATH = ".vmcore"

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        path = self.env.get(self.VMCORE_FILE_STORE_PATH) or self.DEFAULT_PATH
        policy_name = (self.env.get(self.VMCORE_FSYNC) or FsyncPolicy.ALWAYS.value).lower()
        try:
            policy = FsyncPolicy(policy_name)
        except ValueError:
            keys = ", ".join(self.env.create_keys(self.VMCORE_FSYNC))
            choices = "|".join(p.value for p in FsyncPolicy)
            msg = f"invalid fsync policy {policy_name!r} in {keys}: expected {choices}"
            raise OSError(msg) from None
        segment_bytes = self._positive(self.VMCORE_FILE_SEGMENT_BYTES, 64 << 20, int)
        self.poll_interval = self._positive(self.VMCORE_FILE_POLL_INTERVAL, 0.05, float)
        window = self._positive(self.VMCORE_FSYNC_GROUP_WINDOW, 0.001, float)
        lock_timeout = self._positive(self.VMCORE_FILE_LOCK_TIMEOUT, 30.0, float)
        checkpoint = self._positive(self.VMCORE_FILE_INDEX_CHECKPOINT, 10_000, int)
        self.store = FileStore.open(
            os.path.abspath(path),
            policy,
            int(segment_bytes),
            window,
            lock_timeout,
            int(checkpoint),
        )
        self._closed = False

    def _positive(self, key: str, default: float, kind: type[int] | type[float]) -> float:
        raw = self.env.get(key)
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            value = 0
        if value <= 0:
            keys = ", ".join(self.env.create_keys(key))
            msg = f"invalid value {raw!r} in {keys}: expected a positive number"
            raise OSError(msg)
        return value

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        if not _LOG_NAME.match(purpose):
            msg = f"invalid recorder purpose {purpose!r}"
            raise ValueError(msg)
        return FileAggregateRecorder(self.store.log(purpose), poll_interval=self.poll_interval)

    def application_recorder(self) -> ApplicationRecorder:
        cls: type[FileApplicationRecorder] = FileApplicationRecorder
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        if topic:
            cls = resolve_topic(topic)
            assert issubclass(cls, FileApplicationRecorder)
        return cls(self.store.log("events"), poll_interval=self.poll_interval)

    def tracking_recorder(
        self, tracking_recorder_class: type[FileTrackingRecorder] | None = None
    ) -> FileTrackingRecorder:
        cls = tracking_recorder_class
        if cls is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            cls = resolve_topic(topic) if topic else FileTrackingRecorder
        assert cls is not None and issubclass(cls, FileTrackingRecorder)
        return cls(self.store.log("events"), poll_interval=self.poll_interval)

    def process_recorder(self) -> ProcessRecorder:
        cls: type[FileProcessRecorder] = FileProcessRecorder
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        if topic:
            cls = resolve_topic(topic)
            assert issubclass(cls, FileProcessRecorder)
        return cls(self.store.log("events"), poll_interval=self.poll_interval)

    def close(self) -> None:
        """Releases this factory's hold on the store (the last user releases the lock)."""
        if not self._closed:
            self._closed = True
            self.store.close()
