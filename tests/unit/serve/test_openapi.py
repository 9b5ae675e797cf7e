"""/openapi.json describes exactly the routes the app serves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.routing import Route, WebSocketRoute

from vmcore.application.control_plane import ControlPlane
from vmcore.bus import UnifiedEventBus
from vmcore.composition import StoreSpec
from vmcore.entrypoints.http.app import create_app
from vmcore.entrypoints.http.openapi import document


@pytest.fixture
def control_plane() -> Iterator[ControlPlane]:
    cp = ControlPlane(StoreSpec("memory").env())
    yield cp
    cp.close()


def test_document_matches_the_routes(control_plane: ControlPlane) -> None:
    app = create_app(control_plane, UnifiedEventBus())
    served = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            served.add((route.path, "get"))
        elif isinstance(route, Route):
            served.update((route.path, method.lower()) for method in route.methods or ()
                          if method != "HEAD")
    documented = {(path, method) for path, operations in document()["paths"].items()
                  for method in operations}
    assert served == documented


def test_every_path_parameter_is_declared() -> None:
    for path, operations in document()["paths"].items():
        declared = path.count("{")
        for operation in operations.values():
            in_path = [p for p in operation["parameters"] if p["in"] == "path"]
            assert declared == len(in_path), path
