"""Errors raised by the bus."""

from __future__ import annotations


class BusError(Exception):
    """Base class of the bus's errors."""


class QueueFull(BusError):
    """An asynchronous subscription's bounded queue is full and the publisher cannot wait."""


class BusNotRunning(BusError):
    """An event needs the asynchronous workers but the bus is not started (or is stopping)."""


class UnknownSubscription(BusError, KeyError):
    """No subscription has this id."""
