"""The bearer token, the non-loopback refusal and the per-client rate limit, end to end."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.cli_runner import vmcore
from tests.e2e.serve.server import running_server, without_token_env

TOKEN = "s3cret-token-42"


def test_every_v1_route_needs_the_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with running_server("--token-file", str(token_file), "--rate", "0", store="memory",
                        cwd=tmp_path, env=without_token_env()) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": f"Basic {TOKEN}"}):
            response = client.get("/v1/vms", headers=headers)
            assert 401 == response.status_code
            assert "application/problem+json" == response.headers["content-type"]
            assert response.headers["www-authenticate"].startswith("Bearer")
        assert 401 == client.post("/v1/vms", json={"name": "a"}).status_code
        assert 401 == client.get("/v1/vms", params={"access_token": TOKEN}).status_code
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert 201 == client.post("/v1/vms", json={"name": "a"}, headers=good).status_code
        assert ["a"] == [vm["name"] for vm in client.get("/v1/vms", headers=good).json()]
        for open_path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/"):
            assert 200 == client.get(open_path).status_code


def test_env_token(tmp_path: Path) -> None:
    with running_server("--rate", "0", store="memory", cwd=tmp_path,
                        env={"VMCORE_API_TOKEN": "abc"}) as server:
        assert 401 == httpx.get(f"{server.url}/v1/vms").status_code
        assert 200 == httpx.get(f"{server.url}/v1/vms",
                                headers={"Authorization": "Bearer abc"}).status_code


def test_non_loopback_bind_without_token_is_refused(tmp_path: Path) -> None:
    result = vmcore("--store", "memory", "serve", "--listen", "0.0.0.0:0", cwd=tmp_path,
                    env=without_token_env())
    assert 1 == result.returncode
    assert ["vmcore: error: refusing to listen on 0.0.0.0 without a token: set"
            " VMCORE_API_TOKEN or --token-file (or bind to 127.0.0.1)"] == \
        result.stderr.splitlines()
    missing = vmcore("--store", "memory", "serve", "--token-file", "nope", cwd=tmp_path)
    assert 1 == missing.returncode
    assert 1 == len(missing.stderr.splitlines())


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    with running_server("--rate", "0.01", "--burst", "3", store="memory", cwd=tmp_path,
                        env=without_token_env()) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        statuses = [client.get("/v1/vms").status_code for _ in range(5)]
        assert [200, 200, 200, 429, 429] == statuses
        limited = client.get("/v1/vms")
        assert "application/problem+json" == limited.headers["content-type"]
        assert int(limited.headers["retry-after"]) >= 1
        assert 200 == client.get("/healthz").status_code  # not rate limited
