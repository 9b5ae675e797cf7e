"""GDB remote serial protocol framing: ``$data#cs`` packets, acks, and the Ctrl-C byte.

:class:`PacketReader` turns a byte stream from the debugger into events (a packet with a
good checksum, a bad one, ``+``, ``-``, the 0x03 interrupt). It never trusts its input: junk
between packets is skipped, and a packet longer than ``max_size`` is dropped (reported as
:class:`BadPacket`) without being buffered. :func:`encode_packet` frames a reply, escaping
``$``, ``#``, ``}`` and ``*``.
"""

from __future__ import annotations

from attrs import frozen

__all__ = ["Ack", "BadPacket", "Event", "Interrupt", "Nak", "Packet", "PacketReader",
           "checksum", "encode_packet", "unescape"]

_ESCAPED = frozenset(b"$#}*")


@frozen
class Packet:
    data: bytes


@frozen
class BadPacket:
    """A packet with a wrong checksum, or too long to accept; answered with ``-``."""

    reason: str


@frozen
class Ack:
    pass


@frozen
class Nak:
    pass


@frozen
class Interrupt:
    pass


Event = Packet | BadPacket | Ack | Nak | Interrupt


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def encode_packet(data: bytes) -> bytes:
    """``$data#cs`` with the protocol's escapes applied."""
    out = bytearray()
    for byte in data:
        if byte in _ESCAPED:
            out += bytes((0x7D, byte ^ 0x20))
        else:
            out.append(byte)
    return b"$" + bytes(out) + b"#" + f"{checksum(bytes(out)):02x}".encode()


def unescape(data: bytes) -> bytes:
    """Undo ``}``-escapes (binary data of ``X`` packets); a trailing ``}`` is dropped."""
    out = bytearray()
    escape = False
    for byte in data:
        if escape:
            out.append(byte ^ 0x20)
            escape = False
        elif byte == 0x7D:
            escape = True
        else:
            out.append(byte)
    return bytes(out)


class PacketReader:
    """Incremental parser; :meth:`feed` returns the events the new bytes complete."""

    def __init__(self, max_size: int = 0x4000) -> None:
        self.max_size = max_size
        self._state = "idle"  # idle | body | check
        self._body = bytearray()
        self._sum = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        for byte in data:
            if self._state == "idle":
                if byte == 0x24:  # $
                    self._state, self._overflow = "body", False
                    self._body.clear()
                elif byte == 0x2B:
                    events.append(Ack())
                elif byte == 0x2D:
                    events.append(Nak())
                elif byte == 0x03:
                    events.append(Interrupt())
            elif self._state == "body":
                if byte == 0x23:  # #
                    self._state = "check"
                    self._sum.clear()
                elif byte == 0x24:  # a new packet starts: the unfinished one is dropped
                    events.append(BadPacket("packet interrupted by '$'"))
                    self._body.clear()
                    self._overflow = False
                elif len(self._body) >= self.max_size:
                    self._overflow = True
                else:
                    self._body.append(byte)
            else:
                self._sum.append(byte)
                if len(self._sum) == 2:
                    self._state = "idle"
                    events.append(self._finish())
        return events

    def _finish(self) -> Event:
        if self._overflow:
            return BadPacket(f"packet longer than {self.max_size} bytes")
        if not all(c in b"0123456789abcdefABCDEF" for c in self._sum):
            return BadPacket("checksum is not hex")
        expected = int(self._sum.decode("ascii"), 16)
        body = bytes(self._body)
        if checksum(body) != expected:
            return BadPacket("wrong checksum")
        return Packet(body)
