"""The TCP side of the GDB stub: accept one debugger, frame packets, run the guest in slices.

The guest starts halted at its ELF entry (as ``qemu-system-riscv64 -s -S``). While it runs,
the loop gives it ``SLICE`` instructions at a time and polls the socket in between, so a
Ctrl-C (0x03) from gdb interrupts it promptly. Packets with a bad checksum are answered with
``-`` (gdb retransmits); a ``-`` from gdb makes us retransmit our last reply. If the
debugger goes away without killing the guest, the guest runs on to its end, as QEMU's does.
"""

from __future__ import annotations

import select
import socket
import sys
from collections.abc import Callable

from vmcore.application.guest_runner import GuestRunner, Outcome, RunSummary
from vmcore_domain_services.debug import (
    BadPacket,
    DebugTarget,
    GdbStub,
    Interrupt,
    Nak,
    Packet,
    PacketReader,
    encode_packet,
)
from vmcore_domain_services.debug.stub import PACKET_SIZE
from vmcore_domain_services.execution import HaltReason, RunResult

__all__ = ["SLICE", "listen", "parse_address", "serve"]

SLICE = 200_000
"""Instructions the guest runs between two looks at the socket."""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, meaning 127.0.0.1); raises ValueError with a clear text."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--gdb wants HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


class _Connection:
    def __init__(self, conn: socket.socket, stub: GdbStub) -> None:
        self.conn = conn
        self.stub = stub
        self.reader = PacketReader(PACKET_SIZE)
        self.last_sent = b""
        self.open = True

    def send(self, payload: bytes) -> None:
        frame = encode_packet(payload)
        self.last_sent = frame
        self._write(frame)

    def _write(self, data: bytes) -> None:
        try:
            self.conn.sendall(data)
        except OSError:
            self.open = False

    def receive(self, block: bool) -> None:
        """Read what is there (waiting for it if ``block``) and act on every event."""
        if not block and not select.select([self.conn], [], [], 0)[0]:
            return
        try:
            data = self.conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.open = False
            return
        for event in self.reader.feed(data):
            if isinstance(event, Packet):
                ack = b"" if self.stub.no_ack else b"+"
                reply = self.stub.handle(event.data)
                if reply is None:
                    if ack:
                        self._write(ack)
                else:
                    self.last_sent = encode_packet(reply)
                    self._write(ack + self.last_sent)  # one segment: no Nagle delay
            elif isinstance(event, BadPacket):
                if not self.stub.no_ack:
                    self._write(b"-")
            elif isinstance(event, Nak):
                if self.last_sent and not self.stub.no_ack:
                    self._write(self.last_sent)
            elif isinstance(event, Interrupt):
                reply = self.stub.interrupt()
                if reply is not None:
                    self.send(reply)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    return socket.create_server((host, port))


def serve(runner: GuestRunner, listener: socket.socket, *, interval: int = 10_000,
          announce: Callable[[str], None] = lambda line: None,
          startup_time_ms: int | None = None,
          max_instructions: int | None = None) -> RunSummary:
    """Serve one debugger from ``listener`` for ``runner``'s guest; returns how it ended.
    ``max_instructions`` bounds the run after a detach (or a vanished debugger)."""
    machine = runner.machine
    start = machine.instret
    target = DebugTarget(machine, interval)
    stub = GdbStub(target)
    with listener:
        host, port = listener.getsockname()[:2]
        announce(f"waiting for gdb on {host}:{port}")
        conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    runner.begin(startup_time_ms)
    connection = _Connection(conn, stub)
    with conn:
        while connection.open and not stub.killed and not stub.detached and not stub.exited:
            if stub.running is not None:
                reply = stub.advance(SLICE)
                if reply is not None:
                    connection.send(reply)
                connection.receive(block=False)
            else:
                connection.receive(block=True)
        if stub.exited:  # gdb may still say goodbye (kill / detach); answer briefly
            conn.settimeout(2.0)
            try:
                while connection.open and not stub.killed and not stub.detached:
                    connection.receive(block=True)
            except TimeoutError:
                pass
    retired = machine.instret - start
    if stub.exited:
        code = stub.last_stop.exit_code or 0
        return runner.end(RunResult(HaltReason.EXITED, retired, machine.hart.pc,
                                    exit_code=code), retired)
    if stub.killed:
        runner.control_plane.stop_vm(runner.vm_id, force=True, context=runner.context)
        return RunSummary(Outcome.STOPPED, retired, None, "killed by the debugger")
    # detached, or the debugger vanished: the guest runs on, without breakpoints
    target.clear_debug_state()
    target.machine.uart.console = target.console
    sys.stdout.flush()
    result = machine.run(max_instructions)
    return runner.end(result, machine.instret - start)
