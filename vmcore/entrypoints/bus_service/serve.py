"""``vmcore bus serve``: every instance of the config in one process, each on its address,
until SIGTERM or SIGINT.

The server runs on uvloop's event loop when it is installed (it is a dependency on Linux and
macOS), else on asyncio's. uvloop is libuv under asyncio's API; here it takes less CPU per
request than asyncio's loop (socket I/O and the storage thread's hand-back to the loop are
in C), which showed as 1.2-1.4x the durable emits with 16 connections (docs/performance.md,
"Bus service").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TextIO

from vmcore.application.bus_service import (
    BusConfig,
    BusInstance,
    Tool,
    ToolError,
    entry_point_tools,
    vm_tools,
)
from vmcore.application.errors import ConfigurationError
from vmcore.composition.container import Container
from vmcore.entrypoints.bus_service.server import start_server
from vmcore_event_store.bus_log import BusLog, open_bus_log


def open_log(config: BusConfig) -> BusLog:
    try:
        return open_bus_log(config.persist, config.storage_path, config.max_events)
    except Exception as error:  # sqlite3 / psycopg errors differ; all are the user's to fix
        text = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ConfigurationError(f"bus {config.id!r}: field 'storage_path': cannot open"
                                 f" {config.storage_path!r}: {text}") from None


async def open_instances(configs: list[BusConfig]) -> list[tuple[BusInstance, asyncio.Server]]:
    try:
        installed = entry_point_tools()
    except ToolError as error:
        raise ConfigurationError(str(error)) from None
    running: list[tuple[BusInstance, asyncio.Server]] = []
    try:
        for config in configs:
            tools: dict[str, Tool] = dict(installed)
            control_plane = None
            if config.vm_store is not None:
                control_plane = Container.from_settings({"store": config.vm_store}).control_plane()
                tools |= vm_tools(control_plane)
            instance = BusInstance(config, open_log(config), tools=tools)
            await instance.start()
            if config.vm_bridge and control_plane is not None:
                from vmcore.application.bus_service.bridge import VmBridge

                instance.add_task(VmBridge(instance, control_plane).run())
            try:
                server = await start_server(instance)
            except OSError as error:
                await instance.close()
                raise ConfigurationError(f"bus {config.id!r}: field 'listen': cannot listen on"
                                         f" {config.listen}: {error.strerror}") from None
            running.append((instance, server))
    except BaseException:
        await close_instances(running)
        raise
    return running


async def close_instances(running: list[tuple[BusInstance, asyncio.Server]]) -> None:
    for _, server in running:
        server.close()
    for instance, server in running:
        with contextlib.suppress(Exception):  # not wait_for: it can drop a cancel on 3.11
            async with asyncio.timeout(5):
                await server.wait_closed()
        await instance.close()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop if installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without uvloop wheels
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_serve(configs: list[BusConfig], out: TextIO) -> int:
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(serve(configs, out))


async def serve(configs: list[BusConfig], out: TextIO) -> int:
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running = await open_instances(configs)
    for instance, server in running:
        host, port = server.sockets[0].getsockname()[:2]
        out.write(f"bus {instance.config.id} listening on tcp://{host}:{port}\n")
    out.flush()
    await stop.wait()
    await close_instances(running)
    return 0
