"""The decision after a write whose outcome is unknown, with fakes for the server."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from vmcore_event_store.postgres.in_doubt import write_in_doubt_safe


class FakeServer:
    """Commits the first write but loses its reply (``lose_reply``), or refuses it."""

    def __init__(self, *, lose_reply: bool = False, others_hold_key: bool = False) -> None:
        self.rows: list[str] = ["theirs"] if others_hold_key else []
        self.lose_reply = lose_reply
        self.writes = 0

    def write(self) -> list[int]:
        self.writes += 1
        if self.rows:
            raise IntegrityError("duplicate key")
        self.rows.append("ours")
        if self.lose_reply:
            self.lose_reply = False
            raise OperationalError("server closed the connection unexpectedly")
        return [len(self.rows)]

    def find(self) -> list[int] | None:
        return [1] if self.rows == ["ours"] else None


def test_a_committed_write_whose_reply_was_lost_is_found_not_repeated() -> None:
    server, pauses = FakeServer(lose_reply=True), []
    assert [1] == write_in_doubt_safe(server.write, server.find, sleep=pauses.append)
    assert (1, [0.2]) == (server.writes, pauses)


def test_a_refused_write_stays_refused() -> None:
    server = FakeServer(others_hold_key=True)
    with pytest.raises(IntegrityError):
        write_in_doubt_safe(server.write, server.find, sleep=lambda _: None)


def test_the_outcome_is_asked_again_when_the_retry_meets_the_key() -> None:
    """The first attempt may still be running when first asked: ask after the conflict too."""
    answers = iter([None, [7]])
    calls = []

    def write() -> list[int]:
        calls.append("write")
        if len(calls) == 1:
            raise OperationalError("lost")
        raise IntegrityError("duplicate key")

    assert [7] == write_in_doubt_safe(write, lambda: next(answers), sleep=lambda _: None)


def test_gives_up_after_the_attempts_with_the_connection_error() -> None:
    pauses: list[float] = []

    def write() -> list[int]:
        raise OperationalError("down")

    with pytest.raises(OperationalError):
        write_in_doubt_safe(write, lambda: None, attempts=3, sleep=pauses.append)
    assert [0.2, 0.4] == pauses
