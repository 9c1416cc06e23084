"""A database outage is logged once when it begins, reminded rarely, and closed when it ends;
the loop backs off meanwhile; a bug keeps its traceback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from disparo.engine.outage import Outage


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)

    def monotonic(self) -> float:
        return self.t


def _down() -> OperationalError:
    return OperationalError(
        "SELECT 1", {}, ConnectionRefusedError("connection refused\nDETAIL: more")
    )


def test_an_outage_is_told_once_with_backoff_and_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Twenty failures over 10 s make one warning; the backoff doubles up to 5 s; the first
    success logs how long the database was away."""
    clock = FakeClock()
    outage = Outage("record outcomes", clock)
    waits = []
    with caplog.at_level(logging.INFO, logger="disparo.engine"):
        for _ in range(20):
            waits.append(outage.failed(_down(), buffered=12))
            clock.t += 0.5
        outage.succeeded()
        outage.succeeded()
    assert waits[:6] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0]
    assert set(waits[6:]) == {5.0}
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "[SHOTS][WORKER] database unavailable; could not record outcomes, retrying",
        "[SHOTS][WORKER] database reachable again; record outcomes resumed",
    ]
    began, ended = caplog.records
    assert began.levelno == logging.WARNING
    assert began.error == "OperationalError: connection refused"  # type: ignore[attr-defined]
    assert began.buffered == 12  # type: ignore[attr-defined]
    assert began.exc_info is None  # no traceback for an outage
    assert (ended.down_s, ended.failures) == (10.0, 20)  # type: ignore[attr-defined]
    assert not outage.down


def test_a_long_outage_is_reminded_every_thirty_seconds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ninety seconds down: the first warning and two reminders with the time so far."""
    clock = FakeClock()
    outage = Outage("claim or rescue shots", clock)
    with caplog.at_level(logging.WARNING, logger="disparo.engine"):
        for _ in range(91):
            outage.failed(TimeoutError())
            clock.t += 1.0
    downs = [getattr(r, "down_s", 0.0) for r in caplog.records]
    assert downs == [0.0, 30.0, 60.0, 90.0]
    assert "still unavailable" in caplog.records[1].getMessage()


def test_a_bug_is_not_an_outage_and_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception that is no database outage is logged as an error with its traceback."""
    outage = Outage("reserve a batch", FakeClock())
    with caplog.at_level(logging.WARNING, logger="disparo.engine"):
        outage.failed(KeyError("seq"), shot_id=7)
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.shot_id == 7  # type: ignore[attr-defined]
    assert not outage.down


def test_the_drivers_own_errors_are_outages_too(caplog: pytest.LogCaptureFixture) -> None:
    """A server shutdown seen on a raw psycopg connection (the engine's hot path) is an outage,
    logged without a traceback."""
    outage = Outage("reserve a batch", FakeClock())
    shutdown = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    with caplog.at_level(logging.WARNING, logger="disparo.engine"):
        outage.failed(shutdown, shot_id=7)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert outage.down
