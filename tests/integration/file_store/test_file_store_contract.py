"""eventsourcing's own recorder and factory contract suites, run against the file store."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests import persistence as contract
from eventsourcing.utils import Environment

from vmcore_event_store.file import (
    FileAggregateRecorder,
    FileApplicationRecorder,
    FileInfrastructureFactory,
    FileProcessRecorder,
    FileTrackingRecorder,
)


class _TempStore:
    """Gives each test a fresh store directory and closes its factory afterwards."""

    fsync = "always"
    checkpoint = "10000"

    def setUp(self) -> None:
        self.store_dir = tempfile.mkdtemp(prefix="vmcore-file-store-")
        self.file_factory = InfrastructureFactory.construct(
            Environment(
                env={
                    "PERSISTENCE_MODULE": "vmcore_event_store.file",
                    "VMCORE_FILE_STORE_PATH": self.store_dir,
                    "VMCORE_FSYNC": self.fsync,
                    "VMCORE_FILE_INDEX_CHECKPOINT": self.checkpoint,
                }
            )
        )
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        self.file_factory.close()
        shutil.rmtree(self.store_dir, ignore_errors=True)


class TestFileAggregateRecorder(_TempStore, contract.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.file_factory.aggregate_recorder()


class TestFileSnapshotRecorder(_TempStore, contract.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.file_factory.aggregate_recorder("snapshots")


class TestFileApplicationRecorder(_TempStore, contract.ApplicationRecorderTestCase[Any]):
    def create_recorder(self) -> ApplicationRecorder:
        return self.file_factory.application_recorder()

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestFileApplicationRecorderGroupCommit(TestFileApplicationRecorder):
    fsync = "group"


class TestFileApplicationRecorderNoFsync(TestFileApplicationRecorder):
    fsync = "none"


class TestFileApplicationRecorderCheckpointed(TestFileApplicationRecorder):
    """Every few events the tail moves into the persistent index: reads combine both."""

    checkpoint = "3"


class TestFileAggregateRecorderCheckpointed(TestFileAggregateRecorder):
    checkpoint = "2"


class TestFileTrackingRecorder(_TempStore, contract.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.file_factory.tracking_recorder()


class TestFileProcessRecorder(_TempStore, contract.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return self.file_factory.process_recorder()


class TestFileProcessRecorderCheckpointed(TestFileProcessRecorder):
    checkpoint = "2"


class TestFileNonInterleavingNotificationIDs(
    _TempStore, contract.NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> ApplicationRecorder:
        return self.file_factory.application_recorder()


class TestFileNonInterleavingGroupCommit(TestFileNonInterleavingNotificationIDs):
    fsync = "group"


class _TrackingRecorderSubclass(FileTrackingRecorder):
    pass


class TestFileInfrastructureFactory(
    contract.InfrastructureFactoryTestCase[FileInfrastructureFactory]
):
    def setUp(self) -> None:
        self.store_dir = tempfile.mkdtemp(prefix="vmcore-file-factory-")
        self.env = Environment(
            "TestCase",
            {
                "PERSISTENCE_MODULE": "vmcore_event_store.file",
                "VMCORE_FILE_STORE_PATH": self.store_dir,
            },
        )
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        shutil.rmtree(self.store_dir, ignore_errors=True)

    def expected_factory_class(self) -> type[FileInfrastructureFactory]:
        return FileInfrastructureFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return FileAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return FileApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return FileTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return _TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return FileProcessRecorder
