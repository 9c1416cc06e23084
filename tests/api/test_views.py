"""Pure pieces of the reports (timeline buckets, progress) and the pruning of update ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from disparo.api.views import (
    MAX_TIMELINE_POINTS,
    delivery_counts,
    timeline_bucket_s,
    timeline_points,
)
from disparo.db.engine import Database
from disparo.db.tables import bots, processed_updates
from disparo.db.updates import forget_updates_before

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_bucket_width_grows_with_the_span() -> None:
    """1 s buckets for a short shot, a minute for a long one, never more than the cap."""
    assert timeline_bucket_s(None, T0) == 1
    assert timeline_bucket_s(T0, T0 + timedelta(seconds=90)) == 1
    assert timeline_bucket_s(T0, T0 + timedelta(minutes=20)) == 5
    assert timeline_bucket_s(T0, T0 + timedelta(hours=4)) == 60
    for hours in (1, 5, 30, 24 * 20):
        span = timedelta(hours=hours)
        assert span.total_seconds() / timeline_bucket_s(T0, T0 + span) < MAX_TIMELINE_POINTS


def test_timeline_fills_empty_buckets() -> None:
    """Every bucket from the start to the end is a point, with zeros where nothing happened."""
    start = int(T0.timestamp())
    rows = [(start, "sent", 3), (start + 2, "sent", 1), (start + 2, "skipped", 2)]
    points = timeline_points(rows, bucket_s=1, started_at=T0, until=T0 + timedelta(seconds=3))
    assert [p.t for p in points] == [T0 + timedelta(seconds=n) for n in range(4)]
    assert [(p.sent, p.skipped) for p in points] == [(3, 0), (0, 0), (1, 2), (0, 0)]
    assert timeline_points([], bucket_s=1, started_at=None, until=T0) == []


def test_progress_counts_final_outcomes_over_the_snapshot() -> None:
    """progress is finished / total; a finished shot with nobody to send to is complete."""
    counts = delivery_counts({"sent": 5, "unknown": 1, "pending": 4}, 10, "running")
    assert (counts.total, counts.progress) == (10, 0.6)
    assert delivery_counts({}, None, "pending").progress == 0.0
    assert delivery_counts({}, 0, "sent").progress == 1.0
    assert delivery_counts({"sent": 3}, None, "running").total == 3


async def test_old_update_ids_are_forgotten(db: Database) -> None:
    """Update ids older than the cut are pruned; recent ones stay to catch duplicates."""
    async with db.write() as conn:
        await conn.execute(insert(bots).values(slug="loja", token="t", webhook_secret="s"))
        await conn.execute(
            insert(processed_updates),
            [
                {"bot_slug": "loja", "update_id": 1, "received_at": T0 - timedelta(days=3)},
                {"bot_slug": "loja", "update_id": 2, "received_at": T0},
            ],
        )
    async with db.write() as conn:
        await forget_updates_before(conn, T0 - timedelta(days=2))
    async with db.read() as conn:
        assert list(await conn.scalars(select(processed_updates.c.update_id))) == [2]
