"""TRN: the typed resource names of seed 002 (``trn:user:alice``, ``trn:vm:web-1:vcpu:0``)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from attrs import field, frozen

from vmcore.domain.errors import InvalidValue

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")


def _to_segments(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _check_segments(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if len(value) < 2:
        raise InvalidValue(f"a TRN needs a kind and a name (trn:<kind>:<name>), got {value!r}")
    for segment in value:
        if not _SEGMENT.match(segment):
            raise InvalidValue(
                f"TRN segment {segment!r} is not valid: use letters, digits, '.', '_', '@', '-'"
                " and start with a letter or digit"
            )


@frozen(order=True)
class Trn:
    """An identity for actors and resources: ``trn:<kind>:<name>[:<sub>...]``."""

    segments: tuple[str, ...] = field(converter=_to_segments, validator=_check_segments)

    @classmethod
    def parse(cls, text: str) -> Trn:
        """Parse ``trn:kind:name[:...]``; raises :class:`InvalidValue` naming the problem."""
        parts = text.split(":")
        if parts[0] != "trn":
            raise InvalidValue(f"a TRN starts with 'trn:', got {text!r}")
        return cls(tuple(parts[1:]))

    @classmethod
    def of(cls, kind: str, name: str, *rest: str) -> Trn:
        return cls((kind, name, *rest))

    @property
    def kind(self) -> str:
        return self.segments[0]

    @property
    def name(self) -> str:
        return self.segments[1]

    def matches(self, pattern: str) -> bool:
        """Whether this TRN matches ``pattern``, where a ``*`` segment matches any one
        segment and a trailing ``**`` matches any remainder (``trn:vm:*``, ``trn:user:**``)."""
        wanted = pattern.split(":")[1:]
        for index, part in enumerate(wanted):
            if part == "**":
                return True
            if index >= len(self.segments) or part not in ("*", self.segments[index]):
                return False
        return len(wanted) == len(self.segments)

    def __str__(self) -> str:
        return "trn:" + ":".join(self.segments)


SYSTEM_ACTOR = Trn.of("system", "vmcore")
