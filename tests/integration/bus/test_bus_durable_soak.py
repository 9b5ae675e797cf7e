"""Soak: a durable subscriber is SIGKILLed again and again while a writer keeps appending;
the tracked view still ends with every notification exactly once (``make soak``)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eventsourcing.sqlite import SQLiteFactory, SQLiteTrackingRecorder
from eventsourcing.utils import Environment

WORKER = Path(__file__).with_name("durable_worker.py")
BATCHES = 5
PER_BATCH = 4000
KILLS = 8


def _follower(app_db: Path, views: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "follow", str(app_db), str(views)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert "ready" == proc.stdout.readline().strip()
    return proc


@pytest.mark.soak
def test_repeated_sigkills_still_leave_every_event_exactly_once(tmp_path: Path) -> None:
    app_db, views = tmp_path / "app.db", tmp_path / "views"
    views.mkdir()
    writers = [
        subprocess.Popen([sys.executable, str(WORKER), "write", str(app_db), str(PER_BATCH), "7"])
        for _ in range(BATCHES)
    ]
    factory = SQLiteFactory(Environment("check", {"SQLITE_DBNAME": str(views / "exact.db")}))
    exact = factory.tracking_recorder(SQLiteTrackingRecorder)
    name = "Application.exact"
    follower = _follower(app_db, views)
    for kill in range(KILLS):
        target = (kill + 1) * 1000
        deadline = time.monotonic() + 120
        while (exact.max_tracking_id(name) or 0) < target and time.monotonic() < deadline:
            time.sleep(0.002)  # waiting for a condition, not for a duration
        os.kill(follower.pid, signal.SIGKILL)
        follower.wait()
        follower = _follower(app_db, views)
    for writer in writers:
        assert 0 == writer.wait(timeout=600)
    expected_last = BATCHES * (PER_BATCH + 1)
    exact.wait(name, expected_last, timeout=600)
    follower.send_signal(signal.SIGTERM)
    assert 0 == follower.wait(timeout=60)
    with sqlite3.connect(views / "exact.db") as db:
        ids = sorted(row[0] for row in db.execute("SELECT notification_id FROM processed"))
    assert list(range(1, expected_last + 1)) == ids
