"""The bus service's event log (seed 002's ``event_log``): SQLite (WAL, synchronous FULL),
PostgreSQL, or a bounded in-memory log; plus the instance's rules, rule firings and cursors."""

from vmcore_event_store.bus_log.memory import DEFAULT_MAX_EVENTS, MemoryBusLog
from vmcore_event_store.bus_log.records import (
    MAX_LIMIT,
    BusLog,
    Firing,
    LogQuery,
    NewEvent,
    StoredEvent,
    TopicInfo,
    topic_selected,
)


def open_bus_log(persist: bool, storage_path: str | None,
                 max_events: int = DEFAULT_MAX_EVENTS) -> BusLog:
    """The log a config asks for: a DSN (``postgresql://`` or ``host=``) selects PostgreSQL,
    another path SQLite, ``persist`` false memory."""
    if not persist:
        return MemoryBusLog(max_events)
    assert storage_path is not None
    if storage_path.startswith(("postgres://", "postgresql://")) or "host=" in storage_path:
        from vmcore_event_store.bus_log.postgres import PostgresBusLog

        return PostgresBusLog(storage_path)
    from vmcore_event_store.bus_log.sqlite import SQLiteBusLog

    return SQLiteBusLog(storage_path)


__all__ = [
    "DEFAULT_MAX_EVENTS",
    "MAX_LIMIT",
    "BusLog",
    "Firing",
    "LogQuery",
    "MemoryBusLog",
    "NewEvent",
    "StoredEvent",
    "TopicInfo",
    "open_bus_log",
    "topic_selected",
]
