"""What a bot's report reads: the hourly rollup of its period and its shots' details."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import shots_queue
from disparo.db.tables_campaign import REPORT_COUNTS, report_hours
from disparo.domain.bot_report import Counts, HourRow, ShotInfo

r = report_hours.c
q = shots_queue.c


async def hour_rows(
    conn: AsyncConnection, bot_slug: str, start: datetime, end: datetime
) -> list[HourRow]:
    """The rollup rows of the bot's deliveries in [start, end) (idx_report_hours_bot)."""
    query = select(r.shot_id, r.hour, *(r[name] for name in REPORT_COUNTS)).where(
        r.bot_slug == bot_slug, r.hour >= start, r.hour < end
    )
    return [
        HourRow(row.shot_id, row.hour, Counts(**{name: int(row[name]) for name in REPORT_COUNTS}))
        for row in (await conn.execute(query)).mappings()
    ]


async def starts(
    conn: AsyncConnection, bot_slug: str, start: datetime, end: datetime
) -> list[datetime]:
    """When each of the bot's shots that started in [start, end) started."""
    query = select(q.started_at).where(
        q.bot_slug == bot_slug, q.started_at >= start, q.started_at < end
    )
    return [at for at in (await conn.execute(query)).scalars() if at is not None]


async def shot_infos(conn: AsyncConnection, shot_ids: Collection[int]) -> dict[int, ShotInfo]:
    """What the shots table shows of these shots."""
    if not shot_ids:
        return {}
    query = select(q.id, q.copy, q.status, q.started_at, q.audience_total).where(
        q.id.in_(list(shot_ids))
    )
    return {row.id: ShotInfo(*row) for row in (await conn.execute(query)).all()}
