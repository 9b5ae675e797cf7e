"""/readyz answers 503 naming the problem when the store does not answer in time (the wait is
an ``asyncio.timeout``, which never drops a cancel as 3.11's ``wait_for`` can)."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from vmcore.entrypoints.http import app as http_app


def request_for(control_plane: Any) -> Any:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(
        control_plane=control_plane, tailer=None)))


def test_a_store_that_does_not_answer_makes_readyz_503(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(control_plane: Any) -> int:
        release.wait(30)
        return 0

    monkeypatch.setattr(http_app, "head_position", stuck)
    monkeypatch.setattr(http_app, "READY_TIMEOUT", 0.01)
    try:
        response = asyncio.run(http_app.readyz(request_for(object())))
    finally:
        release.set()
    problem = orjson.loads(bytes(response.body))
    assert (503, "store unreachable: no answer in 0.01 s") == (response.status_code,
                                                                 problem["detail"])


def test_a_store_that_answers_makes_readyz_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_app, "head_position", lambda control_plane: 42)
    response = asyncio.run(http_app.readyz(request_for(object())))
    assert (200, {"status": "ready", "position": 42}) == (
        response.status_code, orjson.loads(bytes(response.body)))
