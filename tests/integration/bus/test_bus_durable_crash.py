"""A durable subscriber process is SIGKILLed mid-stream and restarted: its tracked view
ends with every event exactly once; the plain handler sees every event at least once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from eventsourcing.sqlite import SQLiteTrackingRecorder

WORKER = Path(__file__).with_name("durable_worker.py")
TOTAL = 3000


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WORKER), *args], capture_output=True, text=True, check=True
    )


def _follower(app_db: Path, views: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "follow", str(app_db), str(views)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert "ready" == proc.stdout.readline().strip()
    return proc


def _poll_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for a condition (not for a duration): check every few milliseconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.002)


def _open_view(path: Path) -> SQLiteTrackingRecorder:
    from eventsourcing.sqlite import SQLiteFactory
    from eventsourcing.utils import Environment

    factory = SQLiteFactory(Environment("check", {"SQLITE_DBNAME": str(path)}))
    return factory.tracking_recorder(SQLiteTrackingRecorder)


def test_sigkilled_subscriber_resumes_and_processes_every_event_exactly_once(
    tmp_path: Path,
) -> None:
    app_db, views = tmp_path / "app.db", tmp_path / "views"
    views.mkdir()
    _run("write", str(app_db), str(TOTAL // 2), "10")  # 1 + 1500 notifications
    follower = _follower(app_db, views)
    exact = _open_view(views / "exact.db")
    name = "Application.exact"
    writer = subprocess.Popen([sys.executable, str(WORKER), "write", str(app_db), "1500", "10"])
    _poll_until(lambda: (exact.max_tracking_id(name) or 0) >= 300)
    os.kill(follower.pid, signal.SIGKILL)  # mid-stream, while events are still being written
    follower.wait()
    assert 0 == writer.wait(timeout=120)
    killed_at = exact.max_tracking_id(name)
    assert killed_at is not None
    expected_last = 1 + TOTAL // 2 + 1 + 1500  # two Created events plus the increments

    follower = _follower(app_db, views)
    exact.wait(name, expected_last, timeout=120)
    atleast = _open_view(views / "atleast.db")
    atleast.wait("Application.atleast", expected_last, timeout=120)
    follower.send_signal(signal.SIGTERM)
    assert 0 == follower.wait(timeout=60)

    with sqlite3.connect(views / "exact.db") as db:
        ids = [row[0] for row in db.execute("SELECT notification_id FROM processed")]
    assert list(range(1, expected_last + 1)) == sorted(ids)
    assert killed_at < expected_last
    lines = (views / "atleast.txt").read_text().split()
    assert expected_last == len(set(lines))  # every event at least once ...
    assert expected_last <= len(lines)  # ... possibly more than once
