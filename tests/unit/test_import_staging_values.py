"""The SQLite import stage stores times as SQLAlchemy would, and its staged rows are tuples the
garbage collector stops tracking (full collections during an import stalled the event loop)."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone

import pytest

from disparo.db.import_stage import _TIME_PROCESSOR, SqliteStage, utc_text
from disparo.db.imports import CONTACT_ROWS

TIMES = [
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 0, 5, tzinfo=UTC),
    datetime(2026, 5, 1, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=-3))),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 5, 1, tzinfo=timezone(timedelta(0))),
]


@pytest.mark.parametrize("value", TIMES)
def test_utc_text_is_what_sqlalchemy_stores(value: datetime) -> None:
    """The direct conversion gives the very text of UTCDateTime's SQLite processing."""
    assert _TIME_PROCESSOR is not None
    assert utc_text(value) == _TIME_PROCESSOR(value)


def test_utc_text_refuses_a_naive_time() -> None:
    """A naive time is refused, as UTCDateTime refuses it."""
    with pytest.raises(ValueError, match="naive datetime"):
        utc_text(datetime(2026, 1, 1))  # noqa: DTZ001 - the naive time under test


def test_staged_rows_leave_the_collector_sight() -> None:
    """A chunk's staged rows are tuples of plain values, untracked after one collection."""
    stage = SqliteStage(":memory:", CONTACT_ROWS.merge, "loja", datetime.now(UTC))
    rows = [
        {"telegram_id": n, "first_name": f"Ana {n}", "started_at": TIMES[0], "tags": ["vip"]}
        for n in range(1, 4)
    ]
    values, tagged = stage.prepare(rows)
    gc.collect()
    assert all(type(value) is tuple and not gc.is_tracked(value) for value in values)
    assert values[0][0] == 1
    assert "2026-01-01 00:00:00.000000" in values[0]
    assert [tid for tid, _tags in tagged] == [1, 2, 3]
