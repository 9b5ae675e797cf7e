"""Tailing subscriptions of the file store: the store-wide polling subscription, woken at
once by commits this process makes or reads, and polling the log files (one ``fstat`` per
poll) for other processes' commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from vmcore_event_store.polling import PollingSubscription

if TYPE_CHECKING:
    from vmcore_event_store.file.recorders import FileApplicationRecorder

__all__ = ["FileSubscription"]


class FileSubscription(PollingSubscription):
    """Yields notifications after ``gt``, then blocks and yields new ones as they commit."""

    def __init__(
        self,
        recorder: FileApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        poll_interval: float = 0.05,
    ) -> None:
        self._log = recorder.log
        super().__init__(recorder, gt, topics, interval=poll_interval, probe=self._log.poll)

    def _attach(self) -> None:
        self._log.listen(self._has_been_notified)

    def _detach(self) -> None:
        self._log.unlisten(self._has_been_notified)
