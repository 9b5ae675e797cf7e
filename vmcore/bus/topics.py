"""Topic patterns: an exact dotted topic, a ``prefix.*`` wildcard, or :data:`ANY`."""

from __future__ import annotations

from fnmatch import fnmatchcase

ANY = "*"
"""The pattern that matches every topic."""


def validate_pattern(pattern: str) -> str:
    """Return ``pattern`` if it is a usable topic pattern, else raise ``ValueError``."""
    if not isinstance(pattern, str) or not pattern or pattern != pattern.strip():
        raise ValueError(f"invalid topic pattern: {pattern!r}")
    return pattern


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` is selected by ``pattern``.

    ``*`` matches everything; ``vm.*`` matches ``vm.started`` and ``vm.memory.mapped``; other
    glob characters follow :func:`fnmatch.fnmatchcase`; anything else must be equal.
    """
    if pattern in (ANY, topic):
        return True
    if pattern.endswith(".*") and "*" not in pattern[:-2]:
        return topic.startswith(pattern[:-1])
    return any(c in pattern for c in "*?[") and fnmatchcase(topic, pattern)
