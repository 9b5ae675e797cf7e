"""The orjson transcoder against eventsourcing's own TranscoderTestCase, plus attrs values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import attrs
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import JSONTranscoder, Mapper, Transcoder, Transcoding
from eventsourcing.tests import persistence as _contract
from eventsourcing.tests.persistence import (
    CustomType1AsDict,
    CustomType2AsDict,
    Mydict,
    MyInt,
    MyList,
    MyStr,
)
from hypothesis import given
from hypothesis import strategies as st

from vmcore_event_store.transcoder import OrjsonTranscoder


class _MydictAsDict(Transcoding):
    type = Mydict
    name = "mydict"

    def encode(self, obj: Mydict[Any, Any]) -> dict[Any, Any]:
        return dict(obj)

    def decode(self, data: dict[Any, Any]) -> Mydict[Any, Any]:
        return Mydict(data)


class _MyListAsList(Transcoding):
    type = MyList
    name = "mylist"

    def encode(self, obj: MyList[Any]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> MyList[Any]:
        return MyList(data)


class _MyStrAsStr(Transcoding):
    type = MyStr
    name = "mystr"

    def encode(self, obj: MyStr) -> str:
        return str(obj)

    def decode(self, data: str) -> MyStr:
        return MyStr(data)


class _MyIntAsInt(Transcoding):
    type = MyInt
    name = "myint"

    def encode(self, obj: MyInt) -> int:
        return int(obj)

    def decode(self, data: int) -> MyInt:
        return MyInt(data)


class TestOrjsonTranscoderContract(_contract.TranscoderTestCase):
    """eventsourcing's reusable transcoder suite, unmodified (no skipped tests)."""

    def construct_transcoder(self) -> Transcoder:
        transcoder = OrjsonTranscoder()
        for transcoding in (
            CustomType1AsDict(),
            CustomType2AsDict(),
            _MydictAsDict(),
            _MyListAsList(),
            _MyStrAsStr(),
            _MyIntAsInt(),
        ):
            transcoder.register(transcoding)
        return transcoder


class _Arch(Enum):
    RISCV64 = "riscv64"
    X86_64 = "x86_64"


@given(
    st.frozensets(st.text(max_size=5), max_size=5),
    st.sets(st.integers(), max_size=5),
    st.sampled_from(_Arch),
)
def test_round_trips_sets_and_enums(flags: frozenset[str], ints: set[int], arch: _Arch) -> None:
    transcoder = OrjsonTranscoder()
    value = {"flags": flags, "ints": ints, "arch": arch}
    assert value == transcoder.decode(transcoder.encode(value))
    assert transcoder.encode(flags) == transcoder.encode(frozenset(sorted(flags, reverse=True)))


@attrs.frozen
class _Region:
    start: int
    size: int
    _label: str = attrs.field(alias="label", default="ram")


@attrs.frozen
class _Config:
    name: str
    regions: tuple[_Region, ...]
    owner: UUID
    created: datetime


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
    ),
    max_leaves=20,
)


@given(_json)
def test_round_trips_json_values_and_tuples(value: Any) -> None:
    transcoder = OrjsonTranscoder()
    assert value == transcoder.decode(transcoder.encode(value))


def test_round_trips_nan_and_infinities() -> None:
    transcoder = OrjsonTranscoder()
    inf, nan = transcoder.decode(transcoder.encode([float("inf"), float("nan")]))
    assert (float("inf"), True) == (inf, nan != nan)


@given(
    st.uuids(),
    st.datetimes(timezones=st.just(UTC)),
    st.decimals(allow_nan=False, allow_infinity=False),
)
def test_round_trips_uuid_datetime_decimal(uuid: UUID, when: datetime, amount: Decimal) -> None:
    transcoder = OrjsonTranscoder()
    value = {"id": uuid, "at": when, "amount": amount}
    assert value == transcoder.decode(transcoder.encode(value))


@given(st.lists(st.tuples(st.integers(0, 2**40), st.integers(1, 2**20)), max_size=5), st.uuids())
def test_round_trips_attrs_value_objects_without_registration(
    spans: list[tuple[int, int]], owner: UUID
) -> None:
    transcoder = OrjsonTranscoder()
    config = _Config(
        name="vm",
        regions=tuple(_Region(start, size, label=f"r{start}") for start, size in spans),
        owner=owner,
        created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert config == transcoder.decode(transcoder.encode(config))


def test_reads_what_eventsourcings_json_transcoder_wrote() -> None:
    legacy = JSONTranscoder()
    mapper: Mapper[UUID] = Mapper(transcoder=legacy)
    for transcoding in OrjsonTranscoder().names.values():
        if transcoding.name != "tuple_as_list":
            legacy.register(transcoding)
    event = DomainEvent(
        originator_id=UUID(int=7),
        originator_version=3,
        timestamp=datetime(2026, 1, 2, tzinfo=UTC),
    )
    stored = mapper.to_stored_event(event)
    copy = Mapper[UUID](transcoder=OrjsonTranscoder()).to_domain_event(stored)
    assert event == copy
