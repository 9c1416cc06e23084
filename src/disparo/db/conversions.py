"""What a shot's conversion report reads: each group's recipients and deliveries, its
conversions and revenue per event, conversions over time, and the per-recipient rows of the CSV.

Groups come from `idx_shots_sent_shot_id` (shot, status, seq, variant) and conversions from
`idx_shot_conversions_report` (shot, event, variant, converted_at, revenue_cents), each read
from the index alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from disparo.db.tables import shots_sent
from disparo.db.tables_campaign import shot_conversions
from disparo.domain.conversion_report import REVENUE_EVENT, GroupFacts
from disparo.domain.statuses import DeliveryStatus

s = shots_sent.c
c = shot_conversions.c
_REACHED = {
    DeliveryStatus.HOLDOUT.value,
    DeliveryStatus.SKIPPED.value,
    DeliveryStatus.ERROR.value,
    DeliveryStatus.UNKNOWN.value,
}


def _epoch(conn: AsyncConnection, when: ColumnElement[Any]) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":
        return cast(func.strftime("%s", when), BigInteger)
    return cast(func.floor(func.extract("epoch", when)), BigInteger)


async def group_facts(
    conn: AsyncConnection, shot_id: int, *, unassigned: str
) -> dict[str, GroupFacts]:
    """Each group's recipients, deliveries, conversions per event and revenue (`unassigned`
    names the recipients without a variant)."""
    recipients: dict[str, int] = defaultdict(int)
    delivered: dict[str, int] = defaultdict(int)
    query = (
        select(s.variant, s.status, func.count())
        .where(s.shot_id == shot_id)
        .group_by(s.variant, s.status)
    )
    for variant, status, count in await conn.execute(query):
        name = variant if variant is not None else unassigned
        recipients[name] += count
        if status == DeliveryStatus.SENT.value:
            delivered[name] += count
    conversions: dict[str, dict[str, int]] = defaultdict(dict)
    revenue: dict[str, tuple[int, float]] = {}
    squared = cast(c.revenue_cents, Float) * cast(c.revenue_cents, Float)
    query = (
        select(c.event, c.variant, func.count(), func.sum(c.revenue_cents), func.sum(squared))
        .where(c.shot_id == shot_id)
        .group_by(c.event, c.variant)
    )
    for event, variant, count, total, total_sq in await conn.execute(query):
        name = variant if variant is not None else unassigned
        conversions[name][event] = conversions[name].get(event, 0) + int(count)
        if event == REVENUE_EVENT:
            before = revenue.get(name, (0, 0.0))
            revenue[name] = (before[0] + int(total or 0), before[1] + float(total_sq or 0.0))
    return {
        name: GroupFacts(
            name,
            recipients[name],
            delivered[name],
            conversions.get(name, {}),
            *revenue.get(name, (0, 0.0)),
        )
        for name in recipients
    }


async def conversion_series(
    conn: AsyncConnection, shot_id: int, event: str, *, bucket_s: int, unassigned: str
) -> list[tuple[int, str, int, int]]:
    """(bucket start as epoch seconds, group, conversions, revenue) of one event over time."""
    bucket = (_epoch(conn, c.converted_at) // bucket_s) * bucket_s
    query = (
        select(bucket.label("bucket"), c.variant, func.count(), func.sum(c.revenue_cents))
        .where(c.shot_id == shot_id, c.event == event)
        .group_by(bucket, c.variant)
        .order_by(bucket)
    )
    return [
        (int(b), variant if variant is not None else unassigned, int(n), int(total or 0))
        for b, variant, n, total in await conn.execute(query)
    ]


async def recipient_page(
    conn: AsyncConnection, shot_id: int, events: Sequence[str], *, after: int, limit: int
) -> tuple[list[tuple[Any, ...]], int | None]:
    """One page of recipients in send order after seq `after`: telegram_id, variant, status,
    when the shot reached them (sent_at, or the turn of a holdout member or of a recipient
    it could not reach), each event's
    converted_at, and the revenue; and the seq to continue after (None: the last page)."""
    query = (
        select(s.seq, s.telegram_id, s.variant, s.status, s.sent_at, s.updated_at)
        .where(s.shot_id == shot_id, s.seq > after)
        .order_by(s.seq)
        .limit(limit)
    )
    rows = (await conn.execute(query)).all()
    if not rows:
        return [], None
    found: dict[int, dict[str, tuple[datetime, int]]] = defaultdict(dict)
    # Each event named, so the primary key (shot, event, telegram_id) is sought, not scanned.
    conv = select(c.telegram_id, c.event, c.converted_at, c.revenue_cents).where(
        c.shot_id == shot_id,
        c.event.in_(list(events)),
        c.telegram_id.in_([r.telegram_id for r in rows]),
    )
    for telegram_id, event, at, cents in await conn.execute(conv):
        found[telegram_id][event] = (at, int(cents))
    page = []
    for r in rows:
        mine = found.get(r.telegram_id, {})
        turn = r.status in _REACHED and r.sent_at is None  # its turn came, nothing delivered
        reached = r.sent_at if r.sent_at is not None else (r.updated_at if turn else None)
        revenue = mine[REVENUE_EVENT][1] if REVENUE_EVENT in mine else 0
        converted = [mine[e][0] if e in mine else None for e in events]
        page.append((r.telegram_id, r.variant, r.status, reached, *converted, revenue))
    return page, (rows[-1].seq if len(rows) == limit else None)
