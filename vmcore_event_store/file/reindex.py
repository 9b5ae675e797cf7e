"""``reindex``: rebuild every log's persistent index of a file store from its segments."""

from __future__ import annotations

import os
from dataclasses import dataclass

from vmcore_event_store.file.checkpoint import build_index
from vmcore_event_store.file.errors import FileStoreError
from vmcore_event_store.file.segments import segment_numbers

__all__ = ["ReindexedLog", "reindex_store"]


@dataclass(frozen=True, slots=True)
class ReindexedLog:
    directory: str
    max_notification_id: int
    segment_no: int
    offset: int


def reindex_store(store_path: str) -> list[ReindexedLog]:
    """Rebuilds the index of each log (``events``, ``snapshots`` ...) under ``store_path``.

    Safe while other processes use the store: each new index is renamed in whole, and a
    process already open keeps reading the one it opened (both describe the same log).
    """
    if not os.path.isdir(store_path):
        msg = f"no file store at {store_path}"
        raise FileStoreError(msg)
    done = []
    for name in sorted(os.listdir(store_path)):
        directory = os.path.join(store_path, name)
        if os.path.isdir(directory) and segment_numbers(directory):
            checkpoint = build_index(directory)
            done.append(
                ReindexedLog(directory, checkpoint.max_id, checkpoint.segment_no, checkpoint.end)
            )
    return done
