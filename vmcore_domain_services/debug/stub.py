"""The GDB stub's command dispatch: one packet in, one reply out, no sockets.

:class:`GdbStub` answers the packets gdb 13 sends to QEMU's RISC-V stub (see
docs/debugging.md). A resuming packet (``c``, ``s``, ``vCont``, ``bs``, ``bc``) leaves the
stub *running*: the server then calls :meth:`GdbStub.advance` with a bounded budget until it
returns the stop reply, and :meth:`GdbStub.interrupt` when Ctrl-C arrives. Every reply is
the packet's payload; framing is :mod:`.rsp`'s job. Input is never trusted: anything
malformed gets ``E01`` (or the empty reply for unknown commands), never an exception.
"""

from __future__ import annotations

import re

from .rsp import unescape
from .target import SIGINT, DebugAccessError, DebugTarget, Stop
from .target_xml import TARGET_XML

__all__ = ["MAX_WATCHPOINTS", "PACKET_SIZE", "GdbStub"]

PACKET_SIZE = 0x4000
MAX_WATCHPOINTS = 64
_THREAD = "01"
_ADDR_LEN = re.compile(rb"([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8})")
_WATCH_KINDS = {b"2": "watch", b"3": "rwatch", b"4": "awatch"}
_SUPPORTED = (f"PacketSize={PACKET_SIZE:x};qXfer:features:read+;swbreak+;hwbreak+;"
              "vContSupported+;QStartNoAckMode+;ReverseStep+;ReverseContinue+").encode()


class _Malformed(Exception):
    pass


def _addr_len(text: bytes) -> tuple[int, int]:
    match = _ADDR_LEN.fullmatch(text)
    if match is None:
        raise _Malformed(text)
    return int(match[1], 16), int(match[2], 16)


def _le_hex(value: int) -> bytes:
    return value.to_bytes(8, "little").hex().encode()


class GdbStub:
    """Protocol state for one debugger connection over one :class:`DebugTarget`."""

    def __init__(self, target: DebugTarget) -> None:
        self.target = target
        self.no_ack = False
        self.running: str | None = None
        """None (halted), "c" (continuing forward)."""
        self.last_stop: Stop = Stop()
        self.exited = False
        self.killed = False
        self.detached = False

    # -- stop replies --------------------------------------------------------------------
    def stop_reply(self, stop: Stop) -> bytes:
        self.last_stop = stop
        self.running = None
        if stop.exit_code is not None:
            self.exited = True
            return f"W{stop.exit_code & 0xFF:02x}".encode()
        reply = f"T{stop.signal:02x}thread:{_THREAD};"
        if stop.reason in ("swbreak", "hwbreak"):
            reply += f"{stop.reason}:;"
        elif stop.reason is not None:
            value = stop.value if isinstance(stop.value, str) else f"{stop.value or 0:x}"
            reply += f"{stop.reason}:{value};"
        return reply.encode()

    # -- running -------------------------------------------------------------------------
    def advance(self, budget: int) -> bytes | None:
        """Run a continuing guest up to ``budget`` instructions; the stop reply, or None."""
        if self.running is None:
            return None
        stop = self.target.advance(budget)
        return None if stop is None else self.stop_reply(stop)

    def interrupt(self) -> bytes | None:
        """Ctrl-C: stop a running guest (ignored while halted)."""
        if self.running is None:
            return None
        return self.stop_reply(Stop(SIGINT))

    # -- packets ---------------------------------------------------------------------------
    def handle(self, packet: bytes) -> bytes | None:
        """The reply payload, or None when the guest now runs (no reply until it stops)."""
        try:
            return self._dispatch(packet)
        except (_Malformed, ValueError, IndexError):
            return b"E01"
        except DebugAccessError:
            return b"E14"

    def _dispatch(self, p: bytes) -> bytes | None:
        if self.exited and p[:1] not in (b"k", b"D", b"?", b"q", b"v", b"Q", b"H"):
            return b"E01"  # the guest is gone: only queries and kill/detach make sense
        head = p[:1]
        handler = _SIMPLE.get(head)
        if handler is not None:
            return handler(self, p[1:])
        return self._query(p)

    def _query(self, p: bytes) -> bytes | None:
        if p.startswith(b"qSupported"):
            return _SUPPORTED
        if p.startswith(b"qXfer:features:read:"):
            annex, _, span = p[len(b"qXfer:features:read:"):].partition(b":")
            if annex != b"target.xml":
                return b"E00"
            offset, length = _addr_len(span)
            chunk = TARGET_XML[offset:offset + min(length, PACKET_SIZE - 16)]
            more = offset + len(chunk) < len(TARGET_XML)
            return (b"m" if more else b"l") + chunk
        if p == b"QStartNoAckMode":
            self.no_ack = True
            return b"OK"
        if p.startswith(b"qAttached"):
            return b"1"
        if p == b"qC":
            return b"QC" + _THREAD.encode()
        if p == b"qfThreadInfo":
            return b"m" + _THREAD.encode()
        if p == b"qsThreadInfo":
            return b"l"
        if p == b"vCont?":
            return b"vCont;c;C;s;S"
        if p.startswith(b"vCont;"):
            action = p[6:7]
            if action in (b"c", b"C"):
                return self._continue()
            if action in (b"s", b"S"):
                return self.stop_reply(self.target.step())
            raise _Malformed(p)
        if p.startswith(b"vKill"):
            self.killed = True
            return b"OK"
        if p.startswith(b"qRcmd,"):
            return b""
        return b""  # unsupported: the empty reply

    # -- commands ----------------------------------------------------------------------------
    def _continue(self) -> bytes | None:
        self.target.resume()
        self.running = "c"
        return None

    def _status(self, _: bytes) -> bytes:
        return self.stop_reply(self.last_stop)

    def _read_registers(self, _: bytes) -> bytes:
        return b"".join(_le_hex(v) for v in self.target.registers())

    def _write_registers(self, data: bytes) -> bytes:
        raw = bytes.fromhex(data.decode("ascii"))
        for number in range(min(len(raw) // 8, 33)):
            value = int.from_bytes(raw[8 * number:8 * number + 8], "little")
            if self.target.read_register(number) != value:
                self.target.write_register(number, value)
        return b"OK"

    def _read_register(self, data: bytes) -> bytes:
        return _le_hex(self.target.read_register(int(data, 16)))

    def _write_register(self, data: bytes) -> bytes:
        number, _, value = data.partition(b"=")
        raw = bytes.fromhex(value.decode("ascii"))
        if len(raw) != 8:
            raise _Malformed(data)
        self.target.write_register(int(number, 16), int.from_bytes(raw, "little"))
        return b"OK"

    def _read_memory(self, data: bytes) -> bytes:
        address, length = _addr_len(data)
        return self.target.read_memory(address, min(length, PACKET_SIZE // 2 - 8)).hex().encode()

    def _write_memory(self, data: bytes) -> bytes:
        head, _, payload = data.partition(b":")
        address, length = _addr_len(head)
        raw = bytes.fromhex(payload.decode("ascii"))
        if len(raw) != length:
            raise _Malformed(data)
        self.target.write_memory(address, raw)
        return b"OK"

    def _write_binary(self, data: bytes) -> bytes:
        head, _, payload = data.partition(b":")
        address, length = _addr_len(head)
        raw = unescape(payload)
        if len(raw) != length:
            raise _Malformed(data)
        self.target.write_memory(address, raw)
        return b"OK"

    def _c(self, data: bytes) -> bytes | None:
        if data:
            self.target.write_register(32, int(data, 16))
        return self._continue()

    def _s(self, data: bytes) -> bytes:
        if data:
            self.target.write_register(32, int(data, 16))
        return self.stop_reply(self.target.step())

    def _insert(self, data: bytes) -> bytes:
        return self._point(data, insert=True)

    def _remove(self, data: bytes) -> bytes:
        return self._point(data, insert=False)

    def _point(self, data: bytes, insert: bool) -> bytes:
        kind, _, rest = data.partition(b",")
        address, length = _addr_len(rest.split(b";")[0])
        target = self.target
        if kind in (b"0", b"1"):
            hardware = kind == b"1"
            if insert:
                target.add_breakpoint(address, hardware)
            else:
                target.remove_breakpoint(address, hardware)
            return b"OK"
        watch = _WATCH_KINDS.get(kind)
        if watch is None:
            return b""
        if not 0 < length <= 4096:
            raise _Malformed(data)
        if insert:
            if len(target.watches) >= MAX_WATCHPOINTS:
                return b"E0e"  # gdb: "Could not insert hardware watchpoint"
            target.add_watchpoint(watch, address, length)
        else:
            target.remove_watchpoint(watch, address, length)
        return b"OK"

    def _b(self, data: bytes) -> bytes:
        if data == b"s":
            return self.stop_reply(self.target.reverse_step())
        if data == b"c":
            return self.stop_reply(self.target.reverse_continue())
        return b""

    def _kill(self, _: bytes) -> None:
        self.killed = True
        return None

    def _detach(self, _: bytes) -> bytes:
        self.target.clear_debug_state()
        self.detached = True
        return b"OK"

    def _thread(self, _: bytes) -> bytes:
        return b"OK"

    def _thread_alive(self, _: bytes) -> bytes:
        return b"OK"


_SIMPLE = {
    b"?": GdbStub._status,
    b"g": GdbStub._read_registers,
    b"G": GdbStub._write_registers,
    b"p": GdbStub._read_register,
    b"P": GdbStub._write_register,
    b"m": GdbStub._read_memory,
    b"M": GdbStub._write_memory,
    b"X": GdbStub._write_binary,
    b"c": GdbStub._c,
    b"s": GdbStub._s,
    b"Z": GdbStub._insert,
    b"z": GdbStub._remove,
    b"b": GdbStub._b,
    b"k": GdbStub._kill,
    b"D": GdbStub._detach,
    b"H": GdbStub._thread,
    b"T": GdbStub._thread_alive,
}
