"""The RSP framing: packets round-trip through encode/feed in any chunking, bad checksums
and oversized packets become BadPacket, and no input makes the reader raise."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmcore_domain_services.debug import (
    Ack,
    BadPacket,
    Interrupt,
    Nak,
    Packet,
    PacketReader,
    encode_packet,
)
from vmcore_domain_services.debug.rsp import unescape

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.data_too_large])
"""The machine is shared and loaded: no timing-based health checks."""


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


@RELAXED
@given(st.lists(st.binary(max_size=200), max_size=5), st.lists(st.integers(0, 10_000)))
def test_packets_round_trip_in_any_chunking(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_packet(p) for p in payloads)
    reader = PacketReader()
    events = [e for chunk in chunks(stream, cuts) for e in reader.feed(chunk)]
    assert [Packet(p) for p in payloads] == [
        Packet(unescape(e.data)) for e in events if isinstance(e, Packet)]
    assert len(payloads) == len(events)


def test_acks_naks_and_ctrl_c_between_packets() -> None:
    reader = PacketReader()
    assert [Ack(), Nak(), Interrupt(), Packet(b"?")] == reader.feed(b"+-\x03junk$?#3f")


def test_a_wrong_checksum_is_a_bad_packet_and_the_next_one_is_read() -> None:
    reader = PacketReader()
    assert [BadPacket("wrong checksum"), Packet(b"g")] == reader.feed(b"$?#00$g#67")
    assert [BadPacket("checksum is not hex")] == reader.feed(b"$?#zz")


def test_an_oversized_packet_is_dropped_without_being_kept() -> None:
    reader = PacketReader(max_size=64)
    events = reader.feed(b"$" + b"m" * 100_000 + b"#00")
    assert [BadPacket("packet longer than 64 bytes")] == events
    assert len(reader._body) <= 64
    assert [Packet(b"?")] == reader.feed(b"$?#3f")


@RELAXED
@given(st.binary(max_size=2000))
def test_any_bytes_are_read_without_an_exception(data: bytes) -> None:
    reader = PacketReader(max_size=256)
    for event in reader.feed(data):
        assert isinstance(event, Packet | BadPacket | Ack | Nak | Interrupt)
        if isinstance(event, Packet):
            assert len(event.data) <= 256


def test_replies_escape_the_framing_characters() -> None:
    assert b"$}\x03}\x04}]}\n#" == encode_packet(b"#$}*")[:-2]


def reference_events(data: bytes, max_size: int) -> list[object]:
    """The framing rules one byte at a time (the model the reader's fast path must match)."""
    events: list[object] = []
    state, body, check, overflow = "idle", bytearray(), bytearray(), False
    for byte in data:
        if state == "idle":
            if byte == 0x24:
                state, overflow = "body", False
                body.clear()
            elif byte in (0x2B, 0x2D, 0x03):
                events.append({0x2B: Ack(), 0x2D: Nak(), 0x03: Interrupt()}[byte])
        elif state == "body":
            if byte == 0x23:
                state = "check"
                check.clear()
            elif byte == 0x24:
                events.append(BadPacket("packet interrupted by '$'"))
                body.clear()
                overflow = False
            elif len(body) >= max_size:
                overflow = True
            else:
                body.append(byte)
        else:
            check.append(byte)
            if len(check) == 2:
                state = "idle"
                if overflow:
                    events.append(BadPacket(f"packet longer than {max_size} bytes"))
                elif not all(c in b"0123456789abcdefABCDEF" for c in check):
                    events.append(BadPacket("checksum is not hex"))
                elif sum(body) & 0xFF != int(check, 16):
                    events.append(BadPacket("wrong checksum"))
                else:
                    events.append(Packet(bytes(body)))
    return events


FRAGMENTS = st.lists(st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"$", b"#", b"+", b"-", b"\x03", b"$?#3f", b"$g#67", b"#00"]),
    st.binary(max_size=30).map(encode_packet)), max_size=12).map(b"".join)


@RELAXED
@given(FRAGMENTS, st.lists(st.integers(0, 10_000)), st.integers(1, 40))
def test_the_reader_matches_the_byte_at_a_time_model(data: bytes, cuts: list[int],
                                                      max_size: int) -> None:
    reader = PacketReader(max_size)
    events = [e for chunk in chunks(data, cuts) for e in reader.feed(chunk)]
    assert reference_events(data, max_size) == events
