"""Debugging guests with GDB: the remote serial protocol codec, the stub's command dispatch
and the :class:`DebugTarget` facade over a machine (breakpoints, watchpoints, reverse
execution from periodic snapshots). No sockets here; ``vmcore.entrypoints.gdb`` serves it."""

from .rsp import Ack, BadPacket, Interrupt, Nak, Packet, PacketReader, encode_packet
from .stub import GdbStub
from .target import DebugTarget, Stop

__all__ = ["Ack", "BadPacket", "DebugTarget", "GdbStub", "Interrupt", "Nak", "Packet",
           "PacketReader", "Stop", "encode_packet"]
