"""`vmcore run --gdb` against raw sockets: bad checksums, retransmission, malformed and
oversized packets, unmapped memory, Ctrl-C, and a debugger that vanishes; the host never
crashes and keeps answering."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.cli_runner import vmcore
from tests.e2e.gdb_session import symbol, vmcore_gdb
from vmcore_domain_services.debug import Ack, Nak, Packet, PacketReader, encode_packet
from vmcore_domain_services.debug.rsp import Event

MAIN = symbol("main")
SPIN = symbol("spin")
BUMP = symbol("bump")


class Client:
    """A raw RSP client; every read is bounded by a socket timeout."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = PacketReader(1 << 20)
        self.pending: list[Event] = []

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def event(self) -> Event:
        while not self.pending:
            data = self.sock.recv(65536)
            assert data, "the stub closed the connection"
            self.pending += self.reader.feed(data)
        return self.pending.pop(0)

    def packet(self) -> bytes:
        """The next reply packet (acks before it skipped)."""
        while True:
            event = self.event()
            if isinstance(event, Packet):
                return event.data

    def ask(self, payload: bytes) -> bytes:
        self.send(encode_packet(payload))
        return self.packet()

    def close(self) -> None:
        self.sock.close()


def test_bad_checksum_gets_a_nak_and_a_nak_gets_a_retransmission(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        client = Client(server.port)
        client.send(b"$?#00")
        assert Nak() == client.event()
        client.send(b"$?#3f")
        assert Ack() == client.event()
        first = client.event()
        assert Packet(b"T05thread:01;") == first
        client.send(b"-")  # "your reply arrived damaged": the same frame again
        assert first == client.event()
        client.send(b"+")
        assert b"OK" == client.ask(b"QStartNoAckMode")
        client.send(b"$?#00")  # no acks any more, and no answer to a damaged packet
        assert b"E01" == client.ask(b"mzz,4")
        client.send(b"$k#6b")
        client.close()
        assert 1 == server.finish()


def test_malformed_oversized_and_unmapped_requests_get_errors(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        client = Client(server.port)
        client.send(b"$" + b"M80001000,1:" + b"00" * 200_000 + b"#00")
        assert Nak() == client.event()
        assert b"T05thread:01;" == client.ask(b"?")
        for bad in (b"m", b"m80000000", b"m8000000q,4", b"G12345", b"P1=zz", b"Z0",
                    b"M80001000,4:00", b"X80001000,8:ab", b"p999", b"qXfer:features:read:x"):
            assert client.ask(bad).startswith(b"E"), bad
        assert b"E14" == client.ask(b"m0,4")
        assert b"E14" == client.ask(b"mfffffffffffffff0,20")
        assert b"E14" == client.ask(b"m10000000,8")
        assert b"" == client.ask(b"vUnknownThing")
        assert b"17110100" == client.ask(b"m80000000,4")  # the stub still works
        client.send(encode_packet(b"vKill;1"))
        assert b"OK" == client.packet()
        client.close()
        assert 1 == server.finish()


def test_ctrl_c_then_exit_reported_as_w(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        client = Client(server.port)
        assert b"OK" == client.ask(b"QStartNoAckMode")
        assert b"OK" == client.ask(f"Z0,{MAIN:x},2".encode())
        client.send(encode_packet(b"vCont;c"))
        assert b"T05thread:01;swbreak:;" == client.packet()
        assert b"OK" == client.ask(f"z0,{MAIN:x},2".encode())
        assert b"OK" == client.ask(f"M{SPIN:x},4:01000000".encode())
        client.send(encode_packet(b"c"))
        client.send(b"\x03")
        assert b"T02thread:01;" == client.packet()
        assert b"OK" == client.ask(f"M{SPIN:x},4:00000000".encode())
        client.send(encode_packet(b"c"))
        assert b"W37" == client.packet()
        client.close()
        assert 55 == server.finish()


def test_a_debugger_vanishing_mid_run_lets_the_guest_run_to_its_end(tmp_path: Path) -> None:
    with vmcore_gdb(tmp_path) as server:
        client = Client(server.port)
        assert b"OK" == client.ask(b"QStartNoAckMode")
        assert b"OK" == client.ask(f"Z0,{BUMP:x},2".encode())
        client.send(encode_packet(b"c") + b"$m80000000,4")  # half a packet, then gone
        client.sock.shutdown(socket.SHUT_RDWR)
        client.close()
        code = server.finish()
    assert 55 == code, server.stderr
    assert "counter 55 total" in server.stdout
    history = vmcore("--store", f"file:{tmp_path / 'store'}", "vm", "history", "debugged",
                     "--json", cwd=tmp_path)
    topics = [event["topic"] for event in json.loads(history.stdout)]
    assert ["vm.created", "vm.started", "vm.stopped"] == topics


JUNK = st.lists(st.binary(min_size=1, max_size=300).filter(
    lambda b: b"$k" not in b and b"$D" not in b and b"$vKill" not in b), min_size=1, max_size=4)


def test_random_bytes_never_crash_a_live_stub(tmp_path: Path) -> None:
    """One live server for every generated case (one per case would be slow)."""
    with vmcore_gdb(tmp_path) as server:
        client = Client(server.port)
        assert b"OK" == client.ask(b"QStartNoAckMode")

        @settings(max_examples=30, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(JUNK)
        def survive(junk: list[bytes]) -> None:
            for blob in junk:
                client.send(blob)
            # resynchronise: end any half-read packet, stop the guest if the junk happened
            # to resume it, then ask something known
            client.send(b"#00#00\x03" + encode_packet(b"qC"))
            while client.packet() != b"QC01":
                pass

        survive()
        assert b"17110100" == client.ask(b"m80000000,4")
        client.send(encode_packet(b"k"))
        client.close()
        assert 1 == server.finish()
