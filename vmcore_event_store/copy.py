"""Copy an event store into another one, and verify that two stores hold the same events.

Works between any eventsourcing application recorders whose target offers
``insert_notifications(notifications)`` (vmcore's PostgreSQL and file stores; eventsourcing's
SQLite recorder is handled through :mod:`vmcore_event_store.sqlite_recorder`).

* Events are copied in notification-id order, page by page; each page is stored atomically
  under its original notification ids, so ids, originator versions and order are preserved.
* Resumable: the target's highest notification id is where a new run starts. Before resuming,
  the copy checks that the target's last event equals the source's event with that id.
* Snapshots (an aggregate recorder, usually ``purpose="snapshots"``) are copied per
  originator after the events; versions the target already has are skipped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    Notification,
    StoredEvent,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment

from vmcore_event_store.sqlite_recorder import sqlite_insert_notifications

__all__ = [
    "CopyError",
    "CopyProgress",
    "CopyReport",
    "Store",
    "VerifyReport",
    "copy_store",
    "inserter",
    "verify_stores",
]


class CopyError(Exception):
    """The copy cannot proceed (for example the target diverged from the source)."""


class _InsertsNotifications(Protocol):
    def insert_notifications(self, notifications: Sequence[Notification]) -> None: ...


@dataclass(frozen=True)
class Store:
    """The recorders of one store: the application's events and (optionally) snapshots."""

    events: ApplicationRecorder
    snapshots: AggregateRecorder | None = None
    factory: InfrastructureFactory[Any] | None = field(default=None, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, name: str = "", snapshots: bool = True) -> Store:
        """Opens a store the way an eventsourcing application named ``name`` would.

        ``env`` holds ``PERSISTENCE_MODULE`` and that module's settings (for example
        ``SQLITE_DBNAME``, ``POSTGRES_*``, ``VMCORE_FILE_STORE_PATH``).
        """
        factory = InfrastructureFactory.construct(Environment(name, dict(env)))
        snapshot_recorder = factory.aggregate_recorder("snapshots") if snapshots else None
        return cls(factory.application_recorder(), snapshot_recorder, factory)

    def close(self) -> None:
        if self.factory is not None:
            self.factory.close()


@dataclass(frozen=True)
class CopyProgress:
    """Reported after every stored page of events and every copied snapshot originator."""

    phase: str  # "events" or "snapshots"
    events_copied: int
    last_notification_id: int
    source_max_notification_id: int
    snapshots_copied: int


@dataclass(frozen=True)
class CopyReport:
    resumed_after: int
    events_copied: int
    snapshots_copied: int
    last_notification_id: int


@dataclass(frozen=True)
class VerifyReport:
    events_compared: int
    snapshots_compared: int
    first_difference: str | None

    @property
    def identical(self) -> bool:
        return self.first_difference is None


def _pages(
    recorder: ApplicationRecorder, after: int, page_size: int
) -> Iterator[Sequence[Notification]]:
    while page := recorder.select_notifications(after, page_size, inclusive_of_start=False):
        yield page
        after = page[-1].id


def _key(event: StoredEvent) -> tuple[str, int, str, bytes]:
    oid = event.originator_id
    return (
        str(oid) if isinstance(oid, UUID) else oid,
        event.originator_version,
        event.topic,
        event.state,
    )


def _describe(event: StoredEvent) -> str:
    oid, version, topic, state = _key(event)
    return f"{oid} v{version} {topic} ({len(state)} bytes)"


def inserter(recorder: ApplicationRecorder) -> Callable[[Sequence[Notification]], None]:
    """How to store notifications under their own ids in ``recorder``."""
    if hasattr(recorder, "insert_notifications"):
        return cast(_InsertsNotifications, recorder).insert_notifications
    if isinstance(recorder, SQLiteApplicationRecorder):
        return lambda page: sqlite_insert_notifications(recorder, page)
    msg = f"{type(recorder).__name__} cannot store notifications under given ids"
    raise CopyError(msg)


def _check_resume_point(
    source: ApplicationRecorder, target: ApplicationRecorder, last: int
) -> None:
    theirs = target.select_notifications(last, 1)
    ours = source.select_notifications(last, 1)
    if not ours or ours[0].id != last or _key(ours[0]) != _key(theirs[0]):
        msg = (
            f"target's last notification {last} does not match the source; "
            "the target was written by something else (run verify)"
        )
        raise CopyError(msg)


def copy_store(
    source: Store,
    target: Store,
    *,
    page_size: int = 500,
    progress: Callable[[CopyProgress], None] | None = None,
) -> CopyReport:
    """Copies every event (then every snapshot) of ``source`` into ``target``.

    Safe to run again after an interruption: it resumes after the target's last event.
    The target should not be written by anyone else while the copy runs.
    """
    insert = inserter(target.events)
    resumed_after = target.events.max_notification_id() or 0
    if resumed_after:
        _check_resume_point(source.events, target.events, resumed_after)
    source_max = source.events.max_notification_id() or 0
    copied = 0
    last = resumed_after
    for page in _pages(source.events, resumed_after, page_size):
        insert(page)
        copied += len(page)
        last = page[-1].id
        if progress is not None:
            progress(CopyProgress("events", copied, last, source_max, 0))
    snapshots = _copy_snapshots(source, target, page_size, progress, copied, last, source_max)
    return CopyReport(resumed_after, copied, snapshots, last)


def _originators(recorder: ApplicationRecorder, page_size: int) -> Iterator[UUID | str]:
    seen: set[UUID | str] = set()
    for page in _pages(recorder, 0, page_size):
        for notification in page:
            if notification.originator_id not in seen:
                seen.add(notification.originator_id)
                yield notification.originator_id


def _copy_snapshots(
    source: Store,
    target: Store,
    page_size: int,
    progress: Callable[[CopyProgress], None] | None,
    events_copied: int,
    last: int,
    source_max: int,
) -> int:
    if source.snapshots is None or target.snapshots is None:
        return 0
    copied = 0
    for originator_id in _originators(source.events, page_size):
        snapshots = source.snapshots.select_events(originator_id)
        if not snapshots:
            continue
        have = target.snapshots.select_events(originator_id, desc=True, limit=1)
        floor = have[0].originator_version if have else None
        missing = [s for s in snapshots if floor is None or s.originator_version > floor]
        if missing:
            target.snapshots.insert_events(missing)
            copied += len(missing)
            if progress is not None:
                progress(CopyProgress("snapshots", events_copied, last, source_max, copied))
    return copied


def verify_stores(source: Store, target: Store, *, page_size: int = 500) -> VerifyReport:
    """Compares both stores event by event (ids, originators, versions, topics, states),
    then snapshot by snapshot, and reports the first difference found (or none)."""
    compared = 0
    left, right = _pages(source.events, 0, page_size), _pages(target.events, 0, page_size)
    ours: deque[Notification] = deque()
    theirs: deque[Notification] = deque()
    while True:
        if not ours:
            ours.extend(next(left, []))
        if not theirs:
            theirs.extend(next(right, []))
        if not ours and not theirs:
            break
        if not theirs:
            return VerifyReport(
                compared, 0, f"target lacks notification {ours[0].id} ({_describe(ours[0])})"
            )
        if not ours:
            return VerifyReport(
                compared,
                0,
                f"target has extra notification {theirs[0].id} ({_describe(theirs[0])})",
            )
        a, b = ours.popleft(), theirs.popleft()
        if a.id != b.id or _key(a) != _key(b):
            return VerifyReport(
                compared,
                0,
                f"notification {a.id}: source has {_describe(a)}, "
                f"target has notification {b.id}: {_describe(b)}",
            )
        compared += 1
    return _verify_snapshots(source, target, page_size, compared)


def _verify_snapshots(source: Store, target: Store, page_size: int, events: int) -> VerifyReport:
    if source.snapshots is None or target.snapshots is None:
        return VerifyReport(events, 0, None)
    compared = 0
    for originator_id in _originators(source.events, page_size):
        ours = source.snapshots.select_events(originator_id)
        theirs = target.snapshots.select_events(originator_id)
        for a, b in zip(ours, theirs, strict=False):
            if _key(a) != _key(b):
                return VerifyReport(
                    events,
                    compared,
                    f"snapshot of {_describe(a)} differs from target's {_describe(b)}",
                )
            compared += 1
        if len(ours) != len(theirs):
            return VerifyReport(
                events,
                compared,
                f"{originator_id}: source has {len(ours)} snapshots, target has {len(theirs)}",
            )
    return VerifyReport(events, compared, None)
