"""eventsourcing's own recorder contract suites, run against vmcore's PostgreSQL recorders.

Each test gets a fresh schema on the server given by the POSTGRES_* variables (run under
``scripts/with-postgres``), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from vmcore_event_store.postgres import (
    Factory,
    VmcoreAggregateRecorder,
    VmcoreApplicationRecorder,
    VmcoreProcessRecorder,
    VmcoreTrackingRecorder,
)

pytestmark = pytest.mark.postgres


def _conninfo() -> dict[str, Any]:
    return {
        "dbname": os.environ["POSTGRES_DBNAME"],
        "host": os.environ["POSTGRES_HOST"],
        "port": os.environ["POSTGRES_PORT"],
        "user": os.environ["POSTGRES_USER"],
        "password": os.environ["POSTGRES_PASSWORD"],
    }


def _admin(sql: str) -> None:
    with psycopg.connect(autocommit=True, **_conninfo()) as conn:
        conn.execute(sql)


class _FreshSchema:
    """Mixin for the contract cases: a datastore bound to a new, empty schema."""

    schema: str
    datastore: PostgresDatastore

    def setUp(self) -> None:
        self.schema = "t_" + uuid.uuid4().hex[:12]
        _admin(f"CREATE SCHEMA {self.schema}")
        self.datastore = PostgresDatastore(
            schema=self.schema, pool_size=4, max_overflow=12, **_conninfo()
        )
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        self.datastore.close()
        _admin(f"DROP SCHEMA {self.schema} CASCADE")


class TestAggregateRecorder(_FreshSchema, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        recorder = VmcoreAggregateRecorder(self.datastore, events_table_name="snapshots")
        recorder.create_table()
        return recorder


class TestApplicationRecorder(_FreshSchema, ApplicationRecorderTestCase[ApplicationRecorder]):
    def create_recorder(self) -> ApplicationRecorder:
        recorder = VmcoreApplicationRecorder(self.datastore, events_table_name="events")
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestNonInterleavingNotificationIds(_FreshSchema, NonInterleavingNotificationIDsBaseCase):

    def create_recorder(self) -> ApplicationRecorder:
        recorder = VmcoreApplicationRecorder(self.datastore, events_table_name="events")
        recorder.create_table()
        return recorder


class TestTrackingRecorder(_FreshSchema, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        recorder = VmcoreTrackingRecorder(self.datastore, tracking_table_name="tracking")
        recorder.create_table()
        return recorder


class TestProcessRecorder(_FreshSchema, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        recorder = VmcoreProcessRecorder(
            self.datastore, events_table_name="events", tracking_table_name="tracking"
        )
        recorder.create_table()
        return recorder


class TestInfrastructureFactory(InfrastructureFactoryTestCase[Factory]):
    def setUp(self) -> None:
        self.schema = "t_" + uuid.uuid4().hex[:12]
        _admin(f"CREATE SCHEMA {self.schema}")
        self.env = Environment("TestCase")
        self.env.update(
            {
                "PERSISTENCE_MODULE": "vmcore_event_store.postgres",
                "POSTGRES_DBNAME": os.environ["POSTGRES_DBNAME"],
                "POSTGRES_HOST": os.environ["POSTGRES_HOST"],
                "POSTGRES_PORT": os.environ["POSTGRES_PORT"],
                "POSTGRES_USER": os.environ["POSTGRES_USER"],
                "POSTGRES_PASSWORD": os.environ["POSTGRES_PASSWORD"],
                "POSTGRES_SCHEMA": self.schema,
            }
        )
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        _admin(f"DROP SCHEMA {self.schema} CASCADE")

    def expected_factory_class(self) -> type[Factory]:
        return Factory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return VmcoreAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return VmcoreApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return VmcoreTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return _MyTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return VmcoreProcessRecorder


class _MyTrackingRecorder(VmcoreTrackingRecorder):
    pass


def test_dsn_fills_in_postgres_variables() -> None:
    info = _conninfo()
    dsn = (
        f"postgresql://{info['user']}:{info['password']}@{info['host']}:{info['port']}"
        f"/{info['dbname']}"
    )
    env: dict[str, Any] = {"VMCORE_POSTGRES_DSN": dsn}
    with Factory(env) as factory:
        recorder = factory.application_recorder()
        expected = recorder.max_notification_id()
        assert expected == recorder.max_notification_id()
        assert info["port"] == factory.env.get("POSTGRES_PORT")
