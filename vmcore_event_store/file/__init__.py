"""A durable, embedded file event store: an eventsourcing persistence module.

Use it with ``PERSISTENCE_MODULE=vmcore_event_store.file`` and configure it with
``VMCORE_FILE_STORE_PATH`` (a directory, default ``.vmcore``) and ``VMCORE_FSYNC``
(``always`` | ``group`` | ``none``). See docs/file-store.md.
"""

from vmcore_event_store.file.errors import (
    CorruptRecordError,
    FileStoreError,
    StoreLockedError,
    TornTailWarning,
)
from vmcore_event_store.file.factory import FileInfrastructureFactory
from vmcore_event_store.file.log import EventLog, FsyncPolicy
from vmcore_event_store.file.recorders import (
    FileAggregateRecorder,
    FileApplicationRecorder,
    FileProcessRecorder,
    FileTrackingRecorder,
)
from vmcore_event_store.file.store import FileStore
from vmcore_event_store.file.subscription import FileSubscription

Factory = FileInfrastructureFactory

__all__ = [
    "CorruptRecordError",
    "EventLog",
    "Factory",
    "FileAggregateRecorder",
    "FileApplicationRecorder",
    "FileInfrastructureFactory",
    "FileProcessRecorder",
    "FileStore",
    "FileStoreError",
    "FileSubscription",
    "FileTrackingRecorder",
    "FsyncPolicy",
    "StoreLockedError",
    "TornTailWarning",
]
