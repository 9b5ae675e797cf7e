"""vmcore's infrastructure: the durable file store, the PostgreSQL store, the orjson
transcoder and store copy. Each store is an eventsourcing persistence module
(``PERSISTENCE_MODULE=vmcore_event_store.file`` / ``vmcore_event_store.postgres``)."""

from typing import TYPE_CHECKING

from vmcore.domain.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

# Names load on first use (PEP 562), so importing one submodule, or the package for
# one name, costs only what that name needs: the CLI's start-up depends on it.
_LAZY = {
    "CopyError": "vmcore_event_store.copy",
    "CopyProgress": "vmcore_event_store.copy",
    "CopyReport": "vmcore_event_store.copy",
    "Store": "vmcore_event_store.copy",
    "VerifyReport": "vmcore_event_store.copy",
    "copy_store": "vmcore_event_store.copy",
    "verify_stores": "vmcore_event_store.copy",
    "CorruptRecordError": "vmcore_event_store.file",
    "FileInfrastructureFactory": "vmcore_event_store.file",
    "FileStoreError": "vmcore_event_store.file",
    "FsyncPolicy": "vmcore_event_store.file",
    "StoreLockedError": "vmcore_event_store.file",
    "TornTailWarning": "vmcore_event_store.file",
    "OrjsonTranscoder": "vmcore_event_store.transcoder",
}


__getattr__ = lazy_exports(__name__, _LAZY)


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
