"""The CLI as a client: ``vmcore --url http://HOST:PORT vm ...`` (or ``VMCORE_URL``) sends
the same commands to a running ``vmcore serve`` over its REST API (httpx), so many users
share one control plane. The bearer token comes from ``VMCORE_API_TOKEN``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

import httpx

from vmcore.application.errors import StoreUnavailable, VmcoreError
from vmcore.entrypoints.presenters import key_values, table, to_json

if TYPE_CHECKING:
    from vmcore.entrypoints.cli_session import CliSession

SUMMARY = ["name", "id", "state", "reason", "version", "vcpus", "memory", "arch"]
TIMEOUT = 30.0


class RemoteError(VmcoreError):
    """The service refused the request (its problem detail is the message)."""


class Remote:
    def __init__(self, url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise StoreUnavailable(f"cannot reach {self.url}: {error}") from None
        if response.is_success:
            return response.json()
        try:
            detail = response.json().get("detail") or response.reason_phrase
        except ValueError:
            detail = response.reason_phrase
        raise RemoteError(f"{detail} (HTTP {response.status_code})")

    def close(self) -> None:
        self.http.close()


def _vm_path(ref: str, *rest: str) -> str:
    return "/v1/vms/" + "/".join(quote(part, safe="") for part in (ref, *rest))


def _command_body(args: argparse.Namespace) -> dict[str, Any]:
    command = args.vm_command
    if command == "pause":
        return {"reason": args.reason}
    if command == "stop":
        return {"force": args.force}
    if command == "snapshot":
        return {"snapshot_id": args.snapshot_id, "kind": args.kind, "base": args.base}
    if command == "restore":
        return {"snapshot_id": args.snapshot_id, "resume": args.resume}
    if command == "migrate":
        return {"destination": args.destination}
    return {}


def run_remote(args: argparse.Namespace, session: CliSession) -> int:
    url = session.remote_url()
    assert url is not None
    out = session.out
    remote = Remote(url, session.environ.get("VMCORE_API_TOKEN") or None)
    try:
        if args.command == "events":
            _events(remote, args, out)
        elif args.command == "vm":
            _vm(remote, args, out)
        else:
            raise RemoteError(f"'vmcore {args.command}' runs locally only; drop --url")
    finally:
        remote.close()
    return 0


def _vm(remote: Remote, args: argparse.Namespace, out: TextIO) -> None:
    command = args.vm_command
    if command == "create":
        body = {"name": args.name, "vcpus": args.vcpus, "memory": args.memory,
                "arch": args.arch, "tags": args.tags, "flags": args.flags,
                "max_vcpus": args.max_vcpus, "max_memory": args.max_memory}
        _show(remote.call("POST", "/v1/vms", json=body), args, out)
    elif command == "list":
        rows = remote.call("GET", "/v1/vms", params={"all": str(args.all).lower()})
        out.write((to_json(rows) if args.json else table(rows, SUMMARY)) + "\n")
    elif command == "show":
        params = {} if args.at_version is None else {"version": args.at_version}
        _show(remote.call("GET", _vm_path(args.vm), params=params), args, out, detail=True)
    elif command == "history":
        _write_events(remote.call("GET", _vm_path(args.vm, "events")), args, out)
    else:
        vm = remote.call("POST", _vm_path(args.vm, command), json=_command_body(args))
        _show(vm, args, out)


def _show(vm: dict[str, Any], args: argparse.Namespace, out: TextIO,
          detail: bool = False) -> None:
    record = vm if detail else {key: vm[key] for key in SUMMARY}
    out.write((to_json(record) if args.json else key_values(record)) + "\n")


def _events(remote: Remote, args: argparse.Namespace, out: TextIO) -> None:
    params: dict[str, Any] = {key: value for key, value in (
        ("topic", args.topic), ("since", args.since and args.since.isoformat()),
        ("until", args.until and args.until.isoformat()), ("correlation", args.correlation),
        ("trn", args.trn), ("vm", args.vm)) if value}
    records: list[dict[str, Any]] = []
    after = 0
    while args.limit is None or len(records) < args.limit:
        page = remote.call("GET", "/v1/events", params=params | {"after": after, "limit": 1000})
        records += [{k: v for k, v in event.items() if k != "id"} for event in page["events"]]
        if page["next"] is None:
            break
        after = page["next"]
    _write_events(records[:args.limit] if args.limit is not None else records, args, out)


def _write_events(records: list[dict[str, Any]], args: argparse.Namespace,
                  out: TextIO) -> None:
    if args.json:
        out.write(to_json(records) + "\n")
        return
    rows = [{"time": r["timestamp"], "vm": r["meta"]["target"], "version": r["version"],
             "topic": r["topic"], "actor": r["meta"]["actor"]} for r in records]
    out.write(table(rows, ["time", "vm", "version", "topic", "actor"]) + "\n")
