"""Named queries the operator's actions need on `shots_queue` and `shots_sent`.

Every change of status is one guarded UPDATE (`... WHERE status IN (allowed)`), so an operator
and a worker racing on the same shot can never both win.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import shots_queue, shots_sent
from disparo.db.webhook_events import record_shots_ended
from disparo.domain.statuses import (
    FINAL_DELIVERY_STATUSES,
    ShotStatus,
    operator_transition,
    statuses_allowing,
)

# What the operator may change on a pending shot.
EDITABLE_SHOT_FIELDS = frozenset(
    {
        "copy",
        "media_url",
        "media_type",
        "scheduled_at",
        "recency_days",
        "buttons",
        "filter",
        "segment_id",
        "expires_at",
        "stop_on",
        "ignore_frequency_cap",
        "templated",
        "holdout_percent",
        "winner",
        "track_clicks",
        "track_copy_links",
    }
)
_FINAL = tuple(s.value for s in FINAL_DELIVERY_STATUSES)


@dataclass(frozen=True, slots=True)
class ShotRecord:
    """A `shots_queue` row as the API shows it."""

    id: int
    bot_slug: str
    target: str
    recency_days: int | None
    copy: str
    media_url: str | None
    media_type: str
    buttons: Any
    scheduled_at: datetime
    status: str
    attempt_count: int
    last_error: str | None
    audience_total: int | None
    audience_complete: bool  # False while a large audience is still being written
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    filter: Any  # the filter tree narrowing the audience, or None
    segment_id: int | None  # the saved segment narrowing the audience, or None
    expires_at: datetime | None
    stop_on: str | None
    ignore_frequency_cap: bool
    templated: bool  # copy and button URLs in template syntax (every shot made since 0005)
    holdout_percent: int
    winner: Any  # winner mode's settings, or None
    winner_decision: Any  # its decision once taken (before: when the test ended)
    track_clicks: bool  # its links go through the redirect (with DISPARO_PUBLIC_URL set)
    track_copy_links: bool  # the copy's links too, not only URL buttons


_COLUMNS = [shots_queue.c[name] for name in ShotRecord.__slots__]


def _record(row: RowMapping) -> ShotRecord:
    return ShotRecord(**row)


async def insert_shot(conn: AsyncConnection, *, now: datetime, **values: Any) -> ShotRecord:
    """Queue a new pending shot."""
    query = (
        insert(shots_queue)
        .values(status=ShotStatus.PENDING.value, created_at=now, updated_at=now, **values)
        .returning(*_COLUMNS)
    )
    return _record((await conn.execute(query)).mappings().one())


async def get_shot(conn: AsyncConnection, shot_id: int) -> ShotRecord | None:
    """The shot `shot_id`, or None."""
    query = select(*_COLUMNS).where(shots_queue.c.id == shot_id)
    row = (await conn.execute(query)).mappings().first()
    return _record(row) if row is not None else None


async def list_shots(
    conn: AsyncConnection, bot_slug: str, *, before_id: int | None, limit: int
) -> list[ShotRecord]:
    """A bot's shots, newest first, starting below `before_id` (the page cursor)."""
    query = select(*_COLUMNS).where(shots_queue.c.bot_slug == bot_slug)
    if before_id is not None:
        query = query.where(shots_queue.c.id < before_id)
    rows = (await conn.execute(query.order_by(shots_queue.c.id.desc()).limit(limit))).mappings()
    return [_record(row) for row in rows]


async def edit_pending_shot(
    conn: AsyncConnection, shot_id: int, *, now: datetime, **changes: Any
) -> ShotRecord | None:
    """Apply `changes` if the shot is still pending; None otherwise (gone or moved on)."""
    unknown = set(changes) - EDITABLE_SHOT_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    query = (
        update(shots_queue)
        .where(
            shots_queue.c.id == shot_id,
            shots_queue.c.status.in_(statuses_allowing("edit")),
        )
        .values(**changes, updated_at=now)
        .returning(*_COLUMNS)
    )
    row = (await conn.execute(query)).mappings().first()
    return _record(row) if row is not None else None


async def transition_shot(
    conn: AsyncConnection, shot_id: int, action: str, *, now: datetime
) -> ShotRecord | None:
    """Apply an operator action (delete, pause, resume, cancel) if the current status allows it.

    None when it does not (or the shot does not exist); the caller reads the status to explain.
    """
    allowed = statuses_allowing(action)
    target = operator_transition(action, allowed[0])
    values: dict[str, Any] = {"status": target.value, "updated_at": now}
    if target is ShotStatus.CANCELLED:
        values["finished_at"] = now
    query = (
        update(shots_queue)
        .where(shots_queue.c.id == shot_id, shots_queue.c.status.in_(allowed))
        .values(**values)
        .returning(*_COLUMNS)
    )
    row = (await conn.execute(query)).mappings().first()
    if row is not None and target is ShotStatus.CANCELLED:
        await record_shots_ended(conn, [shot_id], now=now)  # a held shot: when its worker lets go
    return _record(row) if row is not None else None


async def delivery_counts(
    conn: AsyncConnection, shot_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """For each shot, how many deliveries are in each status."""
    if not shot_ids:
        return {}
    query = (
        select(shots_sent.c.shot_id, shots_sent.c.status, func.count())
        .where(shots_sent.c.shot_id.in_(shot_ids))
        .group_by(shots_sent.c.shot_id, shots_sent.c.status)
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for shot_id, status, count in await conn.execute(query):
        counts[shot_id][status] = count
    return dict(counts)


async def reason_counts(conn: AsyncConnection, shot_id: int) -> dict[str, int]:
    """How many deliveries of the shot ended for each reason (blocked, chat_not_found, ...)."""
    query = (
        select(shots_sent.c.reason, func.count())
        .where(shots_sent.c.shot_id == shot_id, shots_sent.c.reason.is_not(None))
        .group_by(shots_sent.c.reason)
    )
    return {str(reason): int(count) for reason, count in (await conn.execute(query)).all()}


def _outcome_time() -> ColumnElement[Any]:
    return func.coalesce(shots_sent.c.updated_at, shots_sent.c.sent_at)


async def finished_since(conn: AsyncConnection, shot_id: int, since: datetime) -> int:
    """How many deliveries of the shot reached a final outcome at or after `since`."""
    query = select(func.count()).where(
        shots_sent.c.shot_id == shot_id,
        shots_sent.c.status.in_(_FINAL),
        _outcome_time() >= since,
    )
    return int(await conn.scalar(query) or 0)


async def outcome_timeline(
    conn: AsyncConnection, shot_id: int, *, bucket_s: int
) -> list[tuple[int, str, int]]:
    """(bucket start as epoch seconds, status, count) of the shot's final outcomes over time."""
    when = _outcome_time()
    seconds: ColumnElement[Any] = (
        func.strftime("%s", when)
        if conn.dialect.name == "sqlite"
        else func.floor(func.extract("epoch", when))
    )
    bucket = (cast(seconds, BigInteger) // bucket_s) * bucket_s
    query = (
        select(bucket.label("bucket"), shots_sent.c.status, func.count())
        .where(shots_sent.c.shot_id == shot_id, shots_sent.c.status.in_(_FINAL))
        .where(when.is_not(None))
        .group_by(bucket, shots_sent.c.status)
        .order_by(bucket)
    )
    return [(int(b), status, count) for b, status, count in await conn.execute(query)]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A `shots_sent` row as the API shows it; `seq` is its place in the send order."""

    seq: int
    telegram_id: int
    status: str
    reason: str | None
    error: str | None
    message_id: int | None
    sent_at: datetime | None
    updated_at: datetime | None


_DELIVERY_COLUMNS = [shots_sent.c[name] for name in DeliveryRecord.__slots__]


async def list_deliveries(
    conn: AsyncConnection,
    shot_id: int,
    *,
    status: str | None = None,
    after_seq: int | None = None,
    limit: int = 100,
) -> list[DeliveryRecord]:
    """The shot's deliveries in send order, after `after_seq` (the page cursor)."""
    conditions = [shots_sent.c.shot_id == shot_id]
    if status is not None:
        conditions.append(shots_sent.c.status == status)
    if after_seq is not None:
        conditions.append(shots_sent.c.seq > after_seq)
    query = (
        select(*_DELIVERY_COLUMNS).where(and_(*conditions)).order_by(shots_sent.c.seq).limit(limit)
    )
    return [DeliveryRecord(**row) for row in (await conn.execute(query)).mappings()]
