"""GDB remote serial protocol framing: ``$data#cs`` packets, acks, and the Ctrl-C byte.

:class:`PacketReader` turns a byte stream from the debugger into events (a packet with a
good checksum, a bad one, ``+``, ``-``, the 0x03 interrupt). It never trusts its input: junk
between packets is skipped, and a packet longer than ``max_size`` is dropped (reported as
:class:`BadPacket`) without being buffered. :func:`encode_packet` frames a reply, escaping
``$``, ``#``, ``}`` and ``*``.
"""

from __future__ import annotations

import re

from attrs import frozen

__all__ = ["Ack", "BadPacket", "Event", "Interrupt", "Nak", "Packet", "PacketReader",
           "checksum", "encode_packet", "unescape"]

_SPECIAL = re.compile(rb"[$#}*]")
_BODY_END = re.compile(rb"[$#]")


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
    if _SPECIAL.search(data):
        data = _SPECIAL.sub(lambda match: bytes((0x7D, match[0][0] ^ 0x20)), data)
    return b"$" + data + b"#" + b"%02x" % checksum(data)


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
        position, end = 0, len(data)
        while position < end:
            if self._state == "body":  # copy up to the next '#' or '$' in one slice
                match = _BODY_END.search(data, position)
                stop = match.start() if match else end
                room = self.max_size - len(self._body)
                if stop - position > room:
                    self._overflow = True
                self._body += data[position:position + max(0, min(room, stop - position))]
                position = stop
                if match is None:
                    break
                position += 1
                if match[0] == b"#":
                    self._state = "check"
                    self._sum.clear()
                else:  # a new packet starts: the unfinished one is dropped
                    events.append(BadPacket("packet interrupted by '$'"))
                    self._body.clear()
                    self._overflow = False
                continue
            byte = data[position]
            position += 1
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
