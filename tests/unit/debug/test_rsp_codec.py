"""The RSP framing: packets round-trip through encode/feed in any chunking, bad checksums
and oversized packets become BadPacket, and no input makes the reader raise."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
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


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


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


@given(st.binary(max_size=2000))
def test_any_bytes_are_read_without_an_exception(data: bytes) -> None:
    reader = PacketReader(max_size=256)
    for event in reader.feed(data):
        assert isinstance(event, Packet | BadPacket | Ack | Nak | Interrupt)
        if isinstance(event, Packet):
            assert len(event.data) <= 256


def test_replies_escape_the_framing_characters() -> None:
    assert b"$}\x03}\x04}]}\n#" == encode_packet(b"#$}*")[:-2]
