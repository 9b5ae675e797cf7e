"""``vmcore serve --listen HOST:PORT``: the control plane as a long-running HTTP service.

The token comes from ``VMCORE_API_TOKEN`` or ``--token-file``; binding to an address other
than loopback without one is refused. SIGTERM/SIGINT: stop accepting, close the event
streams, let in-flight requests finish, then close the store.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmcore.application.errors import ConfigurationError

if TYPE_CHECKING:
    from vmcore.entrypoints.cli_session import CliSession

DEFAULT_LISTEN = "127.0.0.1:8080"
GRACE_SECONDS = 10


_EPILOG = """\
examples:
  vmcore serve                                  # http://127.0.0.1:8080, the default store
  vmcore --store postgres:postgresql://u:p@db/vmcore serve --listen 127.0.0.1:9000
  VMCORE_API_TOKEN=s3cret vmcore serve --listen 0.0.0.0:8080
  vmcore --url http://127.0.0.1:8080 vm list    # the CLI as a client
"""


def add_serve_command(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="run the control plane as an HTTP service",
                                  description="The control plane as a long-running HTTP"
                                  " service:\nREST v1, SSE and WebSocket push, /metrics, a"
                                  " dashboard at /.\nSee docs/api.md.", epilog=_EPILOG)
    serve.set_defaults(run=run_serve_command)
    serve.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                       help="address; port 0 = any free")
    serve.add_argument("--token-file", metavar="FILE", help="file holding the API bearer"
                       " token (or set VMCORE_API_TOKEN)")
    serve.add_argument("--rate", type=float, default=50.0, metavar="N",
                       help="requests/s per client; 0 = off")
    serve.add_argument("--burst", type=int, default=100, metavar="N", help="burst per client")
    serve.add_argument("--heartbeat", type=float, default=15.0, metavar="S",
                       help="seconds between stream heartbeats")
    serve.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                       help="seconds to send request headers")
    serve.add_argument("--backlog", type=int, default=1000, metavar="N",
                       help="events a stream client may lag")


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(f"--listen must be HOST:PORT, got {text!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    if args.token_file:
        path = Path(args.token_file)
        if not path.is_file():
            raise ConfigurationError(f"token file {args.token_file!r} does not exist")
        token = path.read_text().strip()
    else:
        token = environ.get("VMCORE_API_TOKEN", "").strip()
    if args.token_file and not token:
        raise ConfigurationError(f"token file {args.token_file!r} is empty")
    return token or None


def run_serve_command(args: argparse.Namespace, session: CliSession) -> int:
    return run_serve(args, lambda: (session.container(), session.control_plane()))


def run_serve(args: argparse.Namespace, open_store: Any) -> int:
    """``open_store()`` gives ``(container, control_plane)`` (the CLI's own opener)."""
    import uvicorn

    from vmcore.entrypoints.http.app import ServeSettings, create_app
    from vmcore.entrypoints.http.idle import header_deadline_protocol

    host, port = parse_listen(args.listen)
    token = read_token(args, os.environ)
    if token is None and not is_loopback(host):
        raise ConfigurationError(f"refusing to listen on {host} without a token: set"
                                 " VMCORE_API_TOKEN or --token-file (or bind to 127.0.0.1)")
    if (args.rate < 0 or args.burst < 1 or args.heartbeat <= 0 or args.backlog < 1
            or args.header_timeout <= 0):
        raise ConfigurationError("--rate must be >= 0, --burst and --backlog >= 1,"
                                 " --heartbeat and --header-timeout > 0")
    if not args.config and not os.environ.get("VMCORE_FSYNC"):
        # Commands arrive on many threads: group commit gives each the same durable
        # acknowledgement as `always`, with one fdatasync per batch.
        os.environ["VMCORE_FSYNC"] = "group"
    container, cp = open_store()
    settings = ServeSettings(token=token, rate=args.rate, burst=args.burst,
                             heartbeat=args.heartbeat, backlog=args.backlog)
    from vmcore.application.services.api import ServicesApi

    bus = container.publisher().connect()  # the bus, every enabled service started
    manager = container.services()
    manager.start_health_checks()
    app = create_app(cp, bus, settings, ServicesApi(manager))
    # loop="asyncio": uvicorn would pick uvloop (a dependency, for `vmcore bus serve`) by
    # itself; this server is built, tested and measured on asyncio's loop
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", loop="asyncio",
                            timeout_graceful_shutdown=GRACE_SECONDS, lifespan="on",
                            ws_max_size=1 << 20, ws_ping_interval=settings.heartbeat,
                            timeout_keep_alive=30,
                            http=header_deadline_protocol(args.header_timeout))

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            for server in self.servers:
                for sock in server.sockets:
                    bound_host, bound_port = sock.getsockname()[:2]
                    print(f"vmcore serve: listening on http://{bound_host}:{bound_port}",
                          file=sys.stderr, flush=True)

        def handle_exit(self, sig: int, frame: Any) -> None:
            # Streams never end by themselves: close them so in-flight requests can finish.
            loop = getattr(self, "_loop", None)
            if loop is not None:
                loop.call_soon_threadsafe(app.state.hub.close)
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal once it has stopped, which would kill the
            # process before the store is closed; we close it and exit 0 instead.
            self._captured_signals.clear()

        async def serve(self, sockets: Any = None) -> None:
            import asyncio

            self._loop = asyncio.get_running_loop()
            await super().serve(sockets)

    try:
        Server(config).run()
    finally:
        cp.close()
        container.shutdown_resources()
    print("vmcore serve: stopped", file=sys.stderr, flush=True)
    return 0
