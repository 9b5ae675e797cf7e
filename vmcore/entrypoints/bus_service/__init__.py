"""``vmcore bus``: the bus service's TCP server, ``serve`` and the client commands."""

from vmcore.entrypoints.bus_service.command import add_bus_command, run_bus_command

__all__ = ["add_bus_command", "run_bus_command"]
