"""The ControlPlane: vmcore's use cases as an eventsourcing Application.

Each use case loads a VM (or creates one), runs one domain command and saves the new
events atomically; after the commit every stored event is published to the bus. A store
conflict surfaces as :class:`~vmcore.application.errors.ConcurrencyConflict`.

The domain's aggregates and event classes are imported where a use case first needs them,
not with this module: opening a store and listing VMs from an up-to-date fleet view (the
CLI's ``vmcore vm list``) reads no event, and building the event classes is the largest part
of the domain's import time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import EventStore, IntegrityError, Recording
from eventsourcing.utils import get_topic

from vmcore.application.errors import (
    ConcurrencyConflict,
    NameTaken,
    VersionMismatch,
    VersionNotFound,
    VmNotFound,
)
from vmcore.application.fleet_view import FleetView, VmSummary
from vmcore.domain.lifecycle import PauseReason, VmState

if TYPE_CHECKING:
    from vmcore.application.queries import EventQuery
    from vmcore.domain.aggregate import VirtualMachine
    from vmcore.domain.config import VmConfig
    from vmcore.domain.events import VmEvent
    from vmcore.domain.metadata import CommandContext
    from vmcore.domain.naming import VmName
    from vmcore.domain.runtime import RuntimeEvent
    from vmcore_event_store.file.errors import CorruptRecordError

_log = logging.getLogger(__name__)
SNAPSHOT_FAILED_TOPIC = "store.snapshot_failed"
__all__ = ["DEFAULT_SNAPSHOT_INTERVAL", "ControlPlane"]

EventPublisher = Callable[[object], None]
DEFAULT_SNAPSHOT_INTERVAL = 50

_log = logging.getLogger(__name__)


class ControlPlane(Application[UUID]):
    """Create, drive, inspect and replay virtual machines."""

    name = "vmcore"

    def __init__(self, env: Mapping[str, str] | None = None, *,
                 snapshot_interval: int = DEFAULT_SNAPSHOT_INTERVAL,
                 publish: EventPublisher | None = None) -> None:
        """``snapshot_interval`` 0 turns aggregate snapshots off; ``publish`` receives each
        event after it is committed (the bus)."""
        self.snapshot_interval = snapshot_interval
        # Keyed by the VirtualMachine class, so set at the first save (see _take_snapshots).
        self.snapshotting_intervals = {}  # type: ignore[misc]
        merged = dict(env or {})
        if snapshot_interval > 0:
            merged.setdefault("IS_SNAPSHOTTING_ENABLED", "y")
        self._publish = publish
        self.snapshot_failures = 0
        """Snapshots that could not be written (their commands were committed all the same)."""
        self.last_snapshot_error: BaseException | None = None
        self.snapshot_store_error: CorruptRecordError | None = None
        """Why the snapshots could not be opened (then every read replays events)."""
        self._unreported = threading.local()
        self.publish_failures = 0
        """Committed events whose ``publish`` hook raised (logged, never re-raised)."""
        super().__init__(merged)

    def construct_snapshot_store(self) -> EventStore[UUID] | None:  # type: ignore[override]
        """The snapshot store, or None if its log is damaged: snapshots can be rebuilt
        from the events, so damage there must not make the events unreadable. Reads then
        replay events, no snapshot is written, and the damage is logged (repair the store
        with ``vmcore store salvage``)."""
        try:
            return super().construct_snapshot_store()
        except Exception as error:
            # Imported here, not with this module: it would load the whole file store.
            from vmcore_event_store.file.errors import CorruptRecordError

            if not isinstance(error, CorruptRecordError):
                raise
            self.snapshot_store_error = error
            _log.warning("snapshots unavailable, reading events only: %s", error)
            return None

    # -- creating and commanding --------------------------------------------------------

    def create_vm(self, name: str, config: VmConfig, *, created_by: str = "system",
                  tags: list[str] | tuple[str, ...] = (),
                  context: CommandContext | None = None) -> UUID:
        """Create a VM; its name claim is saved atomically with it, so names stay unique
        even between processes racing on the same store."""
        from vmcore.domain.aggregate import VirtualMachine

        vm = VirtualMachine.create(name, config, created_by=created_by, tags=tags,
                                   context=context)
        claim = self._claim_name(name, vm.id)
        try:
            self.save(vm, claim)
        except ConcurrencyConflict:
            raise NameTaken(name) from None
        return vm.id

    def _claim_name(self, name: str, vm_id: UUID) -> VmName:
        from vmcore.domain.naming import VmName, name_claim_id

        try:
            claim: VmName = self.repository.get(name_claim_id(name))
        except AggregateNotFoundError:
            return VmName.claim(name, vm_id)
        if claim.vm_id is not None:
            raise NameTaken(name)
        claim.reclaim(vm_id)
        return claim

    def start_vm(self, ref: str | UUID, *, startup_time_ms: int | None = None,
                 context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.start(startup_time_ms=startup_time_ms,
                                                     context=context))

    def pause_vm(self, ref: str | UUID, reason: PauseReason = PauseReason.USER, *,
                 context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.pause(reason, context=context))

    def resume_vm(self, ref: str | UUID, *,
                  context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.resume(context=context))

    def shutdown_vm(self, ref: str | UUID, *,
                    context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.shutdown(context=context))

    def stop_vm(self, ref: str | UUID, *, force: bool = False,
                context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.stop(force=force, context=context))

    def record_guest_exit(self, ref: str | UUID, exit_code: int, *,
                          context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.guest_exited(exit_code, context=context))

    def crash_vm(self, ref: str | UUID, reason: str, *,
                 context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.crash(reason, context=context))

    def snapshot_vm(self, ref: str | UUID, snapshot_id: str, *, kind: str = "full",
                    base_snapshot_id: str | None = None,
                    context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.snapshot(
            snapshot_id, kind=kind, base_snapshot_id=base_snapshot_id, context=context))

    def restore_vm(self, ref: str | UUID, snapshot_id: str, *, resume: bool = False,
                   context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.restore(snapshot_id, resume=resume,
                                                       context=context))

    def migrate_vm(self, ref: str | UUID, destination: str, *,
                   context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.migrate(destination, context=context))

    def update_vm_config(self, ref: str | UUID, config: VmConfig, *,
                         context: CommandContext | None = None) -> VirtualMachine:
        return self.execute(ref, lambda vm: vm.update_config(config, context=context))

    def delete_vm(self, ref: str | UUID, *, context: CommandContext | None = None,
                  expected_version: int | None = None) -> VirtualMachine:
        """Delete the VM (terminal) and release its name in the same atomic save."""
        from vmcore.domain.naming import name_claim_id

        vm = self.get_vm(ref)
        _expect_version(vm, expected_version)
        vm.delete(context=context)
        claim: VmName = self.repository.get(name_claim_id(vm.name))
        claim.release()
        self.save(vm, claim)
        return vm

    def execute(self, ref: str | UUID, command: Callable[[VirtualMachine], None], *,
                expected_version: int | None = None) -> VirtualMachine:
        """Load the VM, run ``command`` on it (a domain method call) and save its events.

        This is how users run any VM command, including their own; a refused command
        raises its domain error and records nothing. With ``expected_version`` the command
        runs only on that version (optimistic concurrency: :class:`VersionMismatch`
        otherwise, or :class:`ConcurrencyConflict` if another writer commits first).
        """
        vm = self.get_vm(ref)
        _expect_version(vm, expected_version)
        command(vm)
        self.save(vm)
        return vm

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        try:
            return super().save(*objs, **kwargs)
        except IntegrityError:
            ids = [obj.id for obj in objs if hasattr(obj, "id")]
            raise ConcurrencyConflict(ids) from None

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshots are an optimisation taken after the commit: if one cannot be written
        (a full disk, a broken snapshots log), the committed command still succeeds and is
        published; the failure is logged, counted and published as
        ``store.snapshot_failed``, and reads fall back to older snapshots and events."""
        if self.snapshot_interval > 0 and not self.snapshotting_intervals:
            from vmcore.domain.aggregate import VirtualMachine  # loaded: something was saved
            from vmcore.domain.evolution import project_virtual_machine

            self.snapshotting_intervals = {VirtualMachine: self.snapshot_interval}  # type: ignore[misc]
            self.snapshotting_projectors = {  # type: ignore[misc]
                VirtualMachine: project_virtual_machine}
        try:
            super()._take_snapshots(processing_event)
        except Exception as error:
            from vmcore.domain.runtime import RuntimeEvent

            self.snapshot_failures += 1
            self.last_snapshot_error = error
            vm_ids = list(processing_event.aggregates)
            _log.warning("snapshot of %s not written; the command's events are committed: %s",
                         ", ".join(map(str, vm_ids)), error)
            self._unreported.events = [
                RuntimeEvent(SNAPSHOT_FAILED_TOPIC, vm_id,
                             {"error": f"{type(error).__name__}: {error}"})
                for vm_id in vm_ids]

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        """After the commit: a subscriber's failure never reaches the caller (the bus
        dead-letters it; a ``publish`` hook that raises anyway is logged and counted)."""
        failures: list[RuntimeEvent] = getattr(self._unreported, "events", [])
        self._unreported.events = []
        if self._publish is None:
            return
        for event in [recording.domain_event for recording in recordings] + failures:
            try:
                self._publish(event)
            except Exception:
                self.publish_failures += 1
                _log.exception("publishing committed event %s failed", type(event).__qualname__)

    # -- reading ------------------------------------------------------------------------

    def resolve(self, ref: str | UUID) -> UUID:
        """The id of the VM named ``ref``, or with id ``ref``."""
        if isinstance(ref, UUID):
            return ref
        try:
            return UUID(ref)
        except ValueError:
            pass
        from vmcore.domain.naming import name_claim_id

        try:
            claim: VmName = self.repository.get(name_claim_id(ref))
        except AggregateNotFoundError:
            raise VmNotFound(ref) from None
        if claim.vm_id is None:
            raise VmNotFound(ref)
        return claim.vm_id

    def get_vm(self, ref: str | UUID, *, version: int | None = None) -> VirtualMachine:
        """The VM as it is now, or as it was at ``version`` (nearest snapshot, then events)."""
        from vmcore.domain.aggregate import VirtualMachine
        from vmcore.domain.evolution import project_virtual_machine

        vm_id = self.resolve(ref)
        try:
            vm: VirtualMachine = self.repository.get(
                vm_id, version=version, projector_func=project_virtual_machine)
        except AggregateNotFoundError:
            if version is not None:
                self._check_version(ref, vm_id, version)
            raise VmNotFound(str(ref)) from None
        if not isinstance(vm, VirtualMachine):
            raise VmNotFound(str(ref))
        if version is not None and vm.version != version:
            raise VersionNotFound(str(ref), version, vm.version)
        return vm

    def _check_version(self, ref: str | UUID, vm_id: UUID, version: int) -> None:
        latest = self.get_vm(vm_id).version
        raise VersionNotFound(str(ref), version, latest)

    def replay_vm(self, ref: str | UUID) -> VirtualMachine:
        """The VM rebuilt from every stored event, ignoring snapshots and caches."""
        from vmcore.domain.evolution import project_virtual_machine

        vm_id = self.resolve(ref)
        vm = project_virtual_machine(None, self.events.get(vm_id))  # type: ignore[arg-type]
        if vm is None:
            raise VmNotFound(str(ref))
        return vm

    def history(self, ref: str | UUID) -> list[VmEvent]:
        """Every event of the VM, oldest first, upcast to the current event classes."""
        from vmcore.domain.events import VmEvent

        return [event for event in self.events.get(self.resolve(ref))
                if isinstance(event, VmEvent)]

    def vm_ids(self) -> list[UUID]:
        """Ids of every VM ever created in this store, in creation order."""
        from vmcore.application.event_log import matching_notifications
        from vmcore.application.queries import EventQuery
        from vmcore.domain.aggregate import VirtualMachine

        created = get_topic(VirtualMachine.Created)
        return [notification.originator_id
                for notification in matching_notifications(self, EventQuery(), [created])]

    def list_vms(self, *, include_deleted: bool = False) -> list[VmSummary]:
        """One summary row per VM, from the fleet view (see :mod:`.fleet_view`)."""
        return _selected(self.fleet_view().rows(), include_deleted)

    def cached_vms(self, head: int, *, include_deleted: bool = False) -> list[VmSummary] | None:
        """:meth:`list_vms` without any I/O, if the fleet view has seen every commit up to
        log position ``head``; else ``None``. For servers that know the newest position."""
        rows = self.fleet_view().cached(head)
        return None if rows is None else _selected(rows, include_deleted)

    def fleet_view(self) -> FleetView:
        view: FleetView | None = getattr(self, "_fleet_view", None)
        if view is None:
            view = FleetView(self.recorder, self.factory.aggregate_recorder("views"),
                             self.mapper.transcoder, self._vm_or_none)
            self._fleet_view = view
        return view

    def _vm_or_none(self, vm_id: UUID) -> VirtualMachine | None:
        try:
            return self.get_vm(vm_id)
        except VmNotFound:
            return None

    def query_events(self, query: EventQuery) -> list[VmEvent]:
        """Events of every VM matching ``query``, in commit order.

        A store with indexed queries (``query_notifications``: the file store, PostgreSQL) selects
        by index; others are read in pages with their topic filter. Either way each event is
        checked against the whole query here.
        """
        from vmcore.application.event_log import matching_notifications
        from vmcore.domain.events import VmEvent

        topics = query.stored_topics()
        if query.topic is not None and not topics:
            return []  # the pattern matches no event class: nothing to read
        notifications = matching_notifications(self, query, topics)
        events = (self.mapper.to_domain_event(notification) for notification in notifications)
        return query.select(event for event in events if isinstance(event, VmEvent))


def _expect_version(vm: VirtualMachine, expected_version: int | None) -> None:
    if expected_version is not None and vm.version != expected_version:
        raise VersionMismatch(vm.name, expected_version, vm.version)


def _selected(rows: list[VmSummary], include_deleted: bool) -> list[VmSummary]:
    deleted = VmState.DELETED
    return rows if include_deleted else [row for row in rows if row.state is not deleted]
