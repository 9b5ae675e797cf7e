"""The VM bridge: an instance follows a vmcore store's notification log and republishes every
VM domain event under its bus topic (``vm.started``...) with its TRNs, so ``poll_events
{"topic": "vm.*"}`` shows the fleet. The position in the notification log is stored with the
republished events in one transaction: a tracked subscription, each event once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any

import orjson

from vmcore.application.control_plane import ControlPlane
from vmcore.domain import VmEvent
from vmcore_event_store.bus_log import NewEvent

if TYPE_CHECKING:
    from vmcore.application.bus_service.instance import BusInstance

CURSOR = "vm_bridge"
PAGE = 500
POLL_SECONDS = 0.25
_BASE = {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}
_log = logging.getLogger(__name__)


def envelope_of(event: VmEvent) -> NewEvent:
    payload: dict[str, Any] = {"vm_id": str(event.originator_id),
                               "version": event.originator_version}
    if is_dataclass(event):
        payload |= {f.name: getattr(event, f.name) for f in fields(event)
                    if f.name not in _BASE}
    return NewEvent(
        topic=event.bus_topic,
        payload=orjson.dumps(payload, default=str).decode(),
        timestamp=int(event.timestamp.timestamp() * 1000),
        metadata=orjson.dumps({"vm": dict(event.meta)}, default=str).decode(),
        source_trn=event.source or event.meta.get("actor"),
        target_trn=event.target, correlation_id=event.correlation_id)


class VmBridge:
    def __init__(self, instance: BusInstance, control_plane: ControlPlane,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.instance = instance
        self.control_plane = control_plane
        self.poll_seconds = poll_seconds

    def _page(self, start: int) -> tuple[list[NewEvent], int]:
        notifications = self.control_plane.recorder.select_notifications(start, PAGE)
        events = []
        for notification in notifications:
            event = self.control_plane.mapper.to_domain_event(notification)
            if isinstance(event, VmEvent):
                events.append(envelope_of(event))
        last = notifications[-1].id if notifications else start - 1
        return events, last

    async def run(self) -> None:
        position = await self.instance.storage(self.instance.log.cursor, CURSOR)
        while True:
            try:
                events, last = await asyncio.to_thread(self._page, position + 1)
                if last > position:
                    await self.instance.append(events, cursor=(CURSOR, last))
                    position = last
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("bus %s: VM bridge failed; retrying", self.instance.config.id)
            await asyncio.sleep(self.poll_seconds)
