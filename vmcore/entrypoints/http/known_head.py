"""The newest log position this server knows of, so ``GET /v1/vms`` can answer without I/O.

Its own commits count at once (the recorder's ``insert_events`` returns their ids before the
command's response is sent, so a client reads its own writes), other processes' when the
log tailer sees them. While the fleet view (``ControlPlane.cached_vms``) has seen this
position, listing costs no I/O at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class KnownHead:
    def __init__(self) -> None:
        self.position = 0
        self._lock = threading.Lock()

    def advance(self, position: int) -> None:
        with self._lock:
            self.position = max(self.position, position)

    def watch_commits(self, recorder: Any) -> None:
        """Advance on every commit through ``recorder`` (wraps its ``insert_events``)."""
        insert: Callable[..., Any] = recorder.insert_events

        def inserting(*args: Any, **kwargs: Any) -> Any:
            ids = insert(*args, **kwargs)
            if ids:
                self.advance(max(ids))
            return ids
        recorder.insert_events = inserting
