"""The stored topics of the VM event classes, as plain strings.

The event store records each event under its class's topic (``module:qualname``, what
``eventsourcing.utils.get_topic`` returns). A reader that only filters notifications by topic
(the fleet view behind ``vmcore vm list``) takes them from here, so it does not build the
event classes (eventsourcing makes each one a frozen dataclass: the largest part of the
domain's import time). ``tests/unit/test_stored_topics.py`` checks they equal the topics of
:data:`vmcore.domain.events.EVENT_CLASSES`, in the same order.
"""

from __future__ import annotations

EVENTS_MODULE = "vmcore.domain.events"

VM_EVENT_TOPICS: tuple[str, ...] = tuple(f"{EVENTS_MODULE}:{name}" for name in (
    "Created", "Started", "StartFailed", "Paused", "Resumed", "ShutdownRequested", "Stopped",
    "Crashed", "ConfigurationUpdated", "SnapshotCreated", "SnapshotRestored",
    "MigrationStarted", "MigrationCompleted", "MigrationCancelled", "MemoryAllocated",
    "MemoryFreed", "MemoryMapped", "MemoryUnmapped", "DeviceAdded", "DeviceRemoved", "Deleted",
))
"""The stored topic of every VM event class, in the order of ``EVENT_CLASSES``."""
