"""Named queries on `segments`: a bot's saved filters, and the shots that use them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import segments, shots_queue
from disparo.domain.statuses import FINAL_SHOT_STATUSES

seg = segments.c


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """A saved segment: a bot's named filter tree (as validated by domain/filters.py)."""

    id: int
    bot_slug: str
    name: str
    filter: Any
    created_at: datetime
    updated_at: datetime


_COLUMNS = [seg[name] for name in SegmentRecord.__slots__]


def _record(row: RowMapping) -> SegmentRecord:
    return SegmentRecord(**row)


async def list_segments(conn: AsyncConnection, bot_slug: str) -> list[SegmentRecord]:
    """The bot's segments by name."""
    query = select(*_COLUMNS).where(seg.bot_slug == bot_slug).order_by(seg.name, seg.id)
    return [_record(row) for row in (await conn.execute(query)).mappings()]


async def get_segment(conn: AsyncConnection, segment_id: int) -> SegmentRecord | None:
    """Segment `segment_id`, or None."""
    row = (await conn.execute(select(*_COLUMNS).where(seg.id == segment_id))).mappings().first()
    return None if row is None else _record(row)


async def name_taken(
    conn: AsyncConnection, bot_slug: str, name: str, *, other_than: int | None = None
) -> bool:
    """Whether another segment of the bot already has `name`."""
    query = select(seg.id).where(seg.bot_slug == bot_slug, seg.name == name)
    if other_than is not None:
        query = query.where(seg.id != other_than)
    return (await conn.execute(query.limit(1))).first() is not None


async def insert_segment(
    conn: AsyncConnection, *, bot_slug: str, name: str, filter_tree: Any, now: datetime
) -> SegmentRecord:
    """Save a new segment; the caller checked the name is free."""
    query = (
        insert(segments)
        .values(bot_slug=bot_slug, name=name, filter=filter_tree, created_at=now, updated_at=now)
        .returning(*_COLUMNS)
    )
    return _record((await conn.execute(query)).mappings().one())


async def update_segment(
    conn: AsyncConnection, segment_id: int, *, now: datetime, **changes: Any
) -> SegmentRecord | None:
    """Change a segment's name and/or filter; None when it is gone."""
    unknown = set(changes) - {"name", "filter"}
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    query = (
        update(segments)
        .where(seg.id == segment_id)
        .values(**changes, updated_at=now)
        .returning(*_COLUMNS)
    )
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else _record(row)


async def unfinished_shots_using(conn: AsyncConnection, segment_id: int) -> list[int]:
    """Ids of the shots not yet ended (pending, paused, running) narrowed by the segment."""
    q = shots_queue.c
    final = [s.value for s in FINAL_SHOT_STATUSES]
    query = select(q.id).where(q.segment_id == segment_id, q.status.not_in(final)).order_by(q.id)
    return list((await conn.scalars(query)).all())


async def delete_segment(conn: AsyncConnection, segment_id: int) -> bool:
    """Remove a segment no unfinished shot uses (check `unfinished_shots_using` first; the
    foreign key refuses it otherwise). Ended shots that used it lose the link, not their history.
    False when there is no such segment."""
    q = shots_queue.c
    final = [s.value for s in FINAL_SHOT_STATUSES]
    await conn.execute(
        update(shots_queue)
        .where(q.segment_id == segment_id, q.status.in_(final))
        .values(segment_id=None)
    )
    return (await conn.execute(delete(segments).where(seg.id == segment_id))).rowcount > 0
