"""Indexed event queries on the file store: the index and the tail give what a scan gives."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from vmcore_event_store.file import FileInfrastructureFactory

OpenStore = Callable[..., FileInfrastructureFactory]
_T0 = datetime(2026, 12, 1, tzinfo=UTC)
_TOPICS = ("vm:Started", "vm:Paused", "vm:Stopped")
_TRNS = ("trn:vm:a", "trn:vm:ab", "trn:user:alice", "trn:system:vmcore")


def _state(moment: datetime, correlation: str, actor: str, target: str) -> bytes:
    return orjson.dumps(
        {
            "timestamp": {"_type_": "datetime_iso", "_data_": moment.isoformat()},
            "meta": {
                "correlation_id": correlation,
                "actor": actor,
                "source": None,
                "target": target,
            },
        }
    )


@pytest.mark.parametrize("checkpoint", ["7", "100000"])  # mostly indexed / all in the tail
def test_indexed_queries_equal_a_scan(open_store: OpenStore, checkpoint: str) -> None:
    rng = random.Random(11)
    recorder = open_store(VMCORE_FILE_INDEX_CHECKPOINT=checkpoint).application_recorder()
    oids = [uuid4() for _ in range(6)]
    versions = dict.fromkeys(oids, 0)
    truth: list[tuple[int, str, UUID, datetime, str, str, str]] = []
    for step in range(150):
        oid = rng.choice(oids)
        versions[oid] += 1
        moment = _T0 + timedelta(seconds=step, microseconds=rng.choice([0, 1, 500_000]))
        topic, corr = rng.choice(_TOPICS), f"c{rng.randrange(10)}"
        actor, target = rng.choice(_TRNS), rng.choice(_TRNS)
        state = _state(moment, corr, actor, target)
        (nid,) = recorder.insert_events([StoredEvent(oid, versions[oid], topic, state)]) or []
        truth.append((nid, topic, oid, moment, corr, actor, target))
    recorder.insert_events([StoredEvent(uuid4(), 1, "vm:Started", b"not json")])

    for _ in range(60):
        topics = rng.sample(_TOPICS, rng.randint(0, 2))
        oid = rng.choice([None, *oids])
        since = rng.choice([None, _T0 + timedelta(seconds=rng.randrange(150))])
        until = rng.choice([None, _T0 + timedelta(seconds=rng.randrange(150))])
        corr = rng.choice([None, "c3", "c7"])
        prefix = rng.choice([None, "trn:vm:a", "trn:user:", "trn:"])
        start, limit = rng.randint(1, 120), rng.randint(1, 40)
        expected = [
            nid
            for nid, topic, o, moment, c, actor, target in truth
            if nid >= start
            and (not topics or topic in topics)
            and (oid is None or o == oid)
            and (since is None or moment >= since)
            and (until is None or moment <= until)
            and (corr is None or c == corr)
            and (prefix is None or actor.startswith(prefix) or target.startswith(prefix))
        ][:limit]
        found = recorder.query_notifications(  # type: ignore[attr-defined]
            start=start,
            limit=limit,
            topics=topics,
            originator_id=oid,
            since=since,
            until=until,
            correlation_id=corr,
            trn_prefix=prefix,
        )
        assert expected == [n.id for n in found]
