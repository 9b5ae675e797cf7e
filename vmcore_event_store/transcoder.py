"""An orjson transcoder for eventsourcing: fast, and exact about types.

``OrjsonTranscoder`` is a drop-in :class:`eventsourcing.persistence.Transcoder`
(select it with ``TRANSCODER_TOPIC=vmcore_event_store.transcoder:OrjsonTranscoder``).
It writes the same ``{"_type_": name, "_data_": ...}`` envelopes as eventsourcing's
``JSONTranscoder``, so stored events stay readable by either, but it lets orjson (Rust) do
the byte work and keeps Python-level work to one walk over the object.

Unlike ``JSONTranscoder`` it round-trips tuples (``tuple_as_list``), sets, enums and registered
subclasses of ``dict``/``list``/``str``/``int``, and it encodes attrs classes (the domain's
value objects) without registration, as ``attrs:<topic>`` envelopes holding their
``__init__`` arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import attrs
import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    Transcoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic, resolve_topic

__all__ = [
    "ATTRS_PREFIX",
    "ENUM_PREFIX",
    "FrozensetAsList",
    "OrjsonTranscoder",
    "SetAsList",
    "TupleAsList",
]

ATTRS_PREFIX = "attrs:"
"""Envelope names starting with this prefix hold an attrs instance; the rest is its topic."""

ENUM_PREFIX = "enum:"
"""Envelope names starting with this prefix hold an Enum member's value; the rest is its topic."""

_SCALARS = frozenset({str, int, float, bool, type(None)})
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson encodes natively
_INFINITIES = (float("inf"), float("-inf"))
_TYPE_MARKER = b'"_type_"'


class TupleAsList(Transcoding):
    """Represents a tuple as a JSON array inside a ``tuple_as_list`` envelope."""

    type = tuple
    name = "tuple_as_list"

    def encode(self, obj: tuple[Any, ...]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        return tuple(data)


def _as_list(items: frozenset[Any] | set[Any]) -> list[Any]:
    try:
        return sorted(items)  # deterministic bytes when the members are orderable
    except TypeError:
        return list(items)


class FrozensetAsList(Transcoding):
    """Represents a frozenset as a (sorted, when possible) JSON array."""

    type = frozenset
    name = "frozenset_as_list"

    def encode(self, obj: frozenset[Any]) -> list[Any]:
        return _as_list(obj)

    def decode(self, data: list[Any]) -> frozenset[Any]:
        return frozenset(data)


class SetAsList(Transcoding):
    """Represents a set as a (sorted, when possible) JSON array."""

    type = set
    name = "set_as_list"

    def encode(self, obj: set[Any]) -> list[Any]:
        return _as_list(obj)

    def decode(self, data: list[Any]) -> set[Any]:
        return set(data)


class _BigIntAsStr(Transcoding):
    """Integers beyond orjson's 64-bit range, as decimal strings."""

    type = int
    name = "bigint_str"

    def encode(self, obj: int) -> str:
        return str(obj)

    def decode(self, data: str) -> int:
        return int(data)


class _SpecialFloatAsStr(Transcoding):
    """NaN and the infinities, which JSON cannot express, as ``repr`` strings."""

    type = float
    name = "float_str"

    def encode(self, obj: float) -> str:
        return repr(obj)

    def decode(self, data: str) -> float:
        return float(data)


class _AttrsCodec:
    """Encodes/decodes instances of one attrs class through its ``__init__`` arguments."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.name = ATTRS_PREFIX + get_topic(cls)
        self.fields = tuple((f.name, f.alias or f.name) for f in attrs.fields(cls) if f.init)

    def state(self, obj: object) -> dict[str, Any]:
        return {alias: getattr(obj, name) for name, alias in self.fields}

    def construct(self, data: dict[str, Any]) -> object:
        return self.cls(**data)


class OrjsonTranscoder(Transcoder):
    """Transcoder using orjson, with eventsourcing-compatible type envelopes."""

    def __init__(self) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}
        self._attrs_by_type: dict[type, _AttrsCodec] = {}
        self._attrs_by_name: dict[str, _AttrsCodec] = {}
        builtin = (
            UUIDAsHex(),
            DatetimeAsISO(),
            DecimalAsStr(),
            TupleAsList(),
            FrozensetAsList(),
            SetAsList(),
        )
        for transcoding in builtin:
            self.register(transcoding)
        self.names[_BigIntAsStr.name] = _BigIntAsStr()
        self.names[_SpecialFloatAsStr.name] = _SpecialFloatAsStr()

    def register(self, transcoding: Transcoding) -> None:
        """Registers a transcoding (same protocol as ``JSONTranscoder.register``)."""
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding

    def encode(self, obj: Any) -> bytes:
        """Encodes ``obj`` as UTF-8 JSON bytes."""
        return orjson.dumps(self._encode(obj))

    def decode(self, data: bytes) -> Any:
        """Decodes bytes made by :meth:`encode` (or by eventsourcing's JSONTranscoder)."""
        obj = orjson.loads(data)
        if _TYPE_MARKER not in data:
            return obj
        return self._decode(obj)

    # Encoding -------------------------------------------------------------------------

    def _encode(self, o: Any) -> Any:
        t = type(o)
        if t in _SCALARS:
            if t is int and not _INT_MIN <= o <= _INT_MAX:
                return {"_type_": _BigIntAsStr.name, "_data_": str(o)}
            if t is float and (o != o or o in _INFINITIES):  # orjson would write null
                return {"_type_": _SpecialFloatAsStr.name, "_data_": repr(o)}
            return o
        if t is dict:
            enc = self._encode
            return {k: enc(v) for k, v in o.items()}
        if t is list:
            enc = self._encode
            return [enc(v) for v in o]
        transcoding = self.types.get(t)
        if transcoding is not None:
            return {"_type_": transcoding.name, "_data_": self._encode(transcoding.encode(o))}
        codec = self._attrs_codec_for(t)
        if codec is not None:
            return {"_type_": codec.name, "_data_": self._encode(codec.state(o))}
        return self._encode_fallback(o)

    def _attrs_codec_for(self, t: type) -> _AttrsCodec | None:
        codec = self._attrs_by_type.get(t)
        if codec is None and attrs.has(t):
            codec = _AttrsCodec(t)
            self._attrs_by_type[t] = codec
            self._attrs_by_name[codec.name] = codec
        return codec

    def _encode_fallback(self, o: Any) -> Any:
        # Unregistered subclasses of JSON-native types degrade to the base type, exactly
        # as eventsourcing's JSONTranscoder does; enums encode as their value.
        if isinstance(o, Enum):
            name = ENUM_PREFIX + get_topic(type(o))
            return {"_type_": name, "_data_": self._encode(o.value)}
        for base in (str, bool, int, float):
            if isinstance(o, base):
                return base(o)
        if isinstance(o, dict):
            return self._encode(dict(o))
        if isinstance(o, list):
            return self._encode(list(o))
        msg = (
            f"Object of type {type(o)} is not "
            "serializable. Please define and register "
            "a custom transcoding for this type."
        )
        raise TranscodingNotRegisteredError(msg)

    # Decoding -------------------------------------------------------------------------

    def _decode(self, o: Any) -> Any:
        t = type(o)
        if t is dict:
            for k, v in o.items():
                tv = type(v)
                if tv is dict or tv is list:
                    o[k] = self._decode(v)
            if len(o) == 2 and "_type_" in o and "_data_" in o:
                return self._decode_envelope(o["_type_"], o["_data_"])
            return o
        if t is list:
            for i, v in enumerate(o):
                tv = type(v)
                if tv is dict or tv is list:
                    o[i] = self._decode(v)
        return o

    def _decode_envelope(self, name: Any, data: Any) -> Any:
        transcoding = self.names.get(name) if isinstance(name, str) else None
        if transcoding is not None:
            return transcoding.decode(data)
        if isinstance(name, str) and name.startswith(ENUM_PREFIX):
            enum_cls = resolve_topic(name[len(ENUM_PREFIX) :])
            if isinstance(enum_cls, type) and issubclass(enum_cls, Enum):
                return enum_cls(data)
        construct = self._attrs_constructor(name)
        if construct is not None:
            return construct(data)
        msg = (
            f"Data serialized with name '{name}' is not "
            "deserializable. Please register a "
            "custom transcoding for this type."
        )
        raise TranscodingNotRegisteredError(msg)

    def _attrs_constructor(self, name: Any) -> Callable[[dict[str, Any]], object] | None:
        if not isinstance(name, str) or not name.startswith(ATTRS_PREFIX):
            return None
        codec = self._attrs_by_name.get(name)
        if codec is None:
            cls = resolve_topic(name[len(ATTRS_PREFIX) :])
            if not (isinstance(cls, type) and attrs.has(cls)):
                return None
            codec = _AttrsCodec(cls)
            self._attrs_by_type[cls] = codec
            self._attrs_by_name[name] = codec
        return codec.construct
