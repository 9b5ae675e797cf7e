"""The VM event topics kept as strings (for readers that do not build the event classes)
are the topics the store records for the event classes."""

from __future__ import annotations

from eventsourcing.utils import get_topic

from vmcore.domain.events import EVENT_CLASSES
from vmcore.domain.stored_topics import VM_EVENT_TOPICS


def test_the_stored_topics_are_those_of_the_event_classes_in_order() -> None:
    assert tuple(get_topic(cls) for cls in EVENT_CLASSES) == VM_EVENT_TOPICS


def test_the_fleet_view_id_is_the_uuid5_of_its_name() -> None:
    from uuid import UUID, uuid5

    from vmcore.application.fleet_view import VIEW_ID

    assert uuid5(UUID(int=0), "vmcore.fleet-view:columns") == VIEW_ID
