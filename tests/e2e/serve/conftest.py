"""One `vmcore serve` (file store, no rate limit) shared by a test module, and its client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.serve.server import Server, running_server, without_token_env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve")
    with running_server("--rate", "0", "--heartbeat", "0.5", "--header-timeout", "1",
                        store="file:./store", cwd=workdir, env=without_token_env()) as running:
        yield running


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
