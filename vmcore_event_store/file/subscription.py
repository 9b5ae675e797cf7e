"""Tailing subscriptions: in-process commits wake them at once; other processes' commits
are picked up by polling the log files (one ``fstat`` per poll)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import ListenNotifySubscription

if TYPE_CHECKING:
    from vmcore_event_store.file.recorders import FileApplicationRecorder

__all__ = ["FileSubscription"]


class FileSubscription(ListenNotifySubscription["FileApplicationRecorder"]):
    """Yields notifications after ``gt``, then blocks and yields new ones as they commit."""

    def __init__(
        self,
        recorder: FileApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        poll_interval: float = 0.05,
    ) -> None:
        self._log = recorder.log
        self._stopped = threading.Event()
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._log.listen(self._has_been_notified)
        self._has_been_notified.set()  # re-pull: a commit may have landed before listen()
        self._poll_interval = poll_interval
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stopped.wait(self._poll_interval):
            try:
                self._log.poll()
            except BaseException as e:  # surfaced by __next__, as the pull thread does
                if self._thread_error is None:
                    self._thread_error = e
                self.stop()
                return

    def stop(self) -> None:
        super().stop()
        self._stopped.set()
        self._log.unlisten(self._has_been_notified)

    def __exit__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poller.join()
