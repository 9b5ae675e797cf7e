"""vmcore's infrastructure: the durable file store, the PostgreSQL store, the orjson
transcoder and store copy. Each store is an eventsourcing persistence module
(``PERSISTENCE_MODULE=vmcore_event_store.file`` / ``vmcore_event_store.postgres``)."""

from vmcore_event_store.copy import (
    CopyError,
    CopyProgress,
    CopyReport,
    Store,
    VerifyReport,
    copy_store,
    verify_stores,
)
from vmcore_event_store.file import (
    CorruptRecordError,
    FileInfrastructureFactory,
    FileStoreError,
    FsyncPolicy,
    StoreLockedError,
    TornTailWarning,
)
from vmcore_event_store.transcoder import OrjsonTranscoder

__all__ = [
    "CopyError",
    "CopyProgress",
    "CopyReport",
    "CorruptRecordError",
    "FileInfrastructureFactory",
    "FileStoreError",
    "FsyncPolicy",
    "OrjsonTranscoder",
    "Store",
    "StoreLockedError",
    "TornTailWarning",
    "VerifyReport",
    "copy_store",
    "verify_stores",
]
