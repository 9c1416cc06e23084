"""Deliveries (`shots_sent` rows): snapshot the audience, reserve batches, record outcomes, finish.

The never-twice rule lives here: a delivery goes `pending → sending` in a committed transaction
before any request, only from `pending`, and only while the shot's lease is the reserving
worker's; outcomes are written only over `sending`, so a delivery a rescue already marked
`unknown` keeps that outcome. Writes come in batches (one statement per batch) because the
engine records thousands of outcomes a second.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Integer,
    Text,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.audience import REACHABLE_CHAT_STATES, audience_select
from disparo.db.engine import Database
from disparo.db.raw import driver_sql
from disparo.db.tables import shots_queue, shots_sent, telegram_contacts
from disparo.db.types import UTCDateTime
from disparo.domain.statuses import DeliveryStatus, ShotStatus

s = shots_sent.c
q = shots_queue.c
c = telegram_contacts.c
SENDING = DeliveryStatus.SENDING.value
PENDING = DeliveryStatus.PENDING.value
SKIPPED = DeliveryStatus.SKIPPED.value
UNKNOWN = DeliveryStatus.UNKNOWN.value
LOST_ERROR = "the worker sending it stopped answering before recording the result"


@dataclass(frozen=True, slots=True)
class Reserved:
    """A delivery this worker reserved and alone may send."""

    telegram_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """The result of one reservation.

    `state` is "ok" when the shot is still this worker's and running; "lost" when the lease is
    gone; otherwise the shot's new status (paused, cancelled, ...) and nothing was reserved.
    """

    state: str
    rows: list[Reserved]
    skipped: dict[str, int]  # deliveries found ineligible at reservation, by reason


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The final outcome of one delivery, as the engine records it."""

    shot_id: int
    telegram_id: int
    status: str
    reason: str | None = None
    error: str | None = None
    message_id: int | None = None
    sent_at: datetime | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class ContactChange:
    """A contact Telegram proved unreachable (blocked the bot, or deleted their account)."""

    bot_slug: str
    telegram_id: int
    chat_state: str


async def _owned(conn: AsyncConnection, shot_id: int, worker_id: str, *, lock: bool) -> Any | None:
    """The shot row if `worker_id` holds its lease (row-locked on PostgreSQL when `lock`)."""
    query = select(q.status, q.locked_by, q.lease_expires_at, q.audience_total).where(
        q.id == shot_id
    )
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return row if row is not None and row.locked_by == worker_id else None


async def snapshot_audience(
    db: Database,
    shot_id: int,
    *,
    bot_slug: str,
    target: str,
    recency_days: int | None,
    worker_id: str,
    now: datetime,
) -> int | None:
    """Write the shot's audience into `shots_sent` once (INSERT … SELECT, numbered in send order).

    Returns the audience total (the existing one when resuming); None when the lease is lost. A
    shot with an empty audience ends at once as `skipped`.
    """
    # No wake-up: an empty audience frees the bot, and the sender's end wakes this worker.
    async with db.write() as conn:
        row = await _owned(conn, shot_id, worker_id, lock=True)
        if row is None:
            return None
        if row.audience_total is not None:
            return int(row.audience_total)
        audience = audience_select(bot_slug, target, recency_days, now=now).subquery()
        columns = ["shot_id", "bot_slug", "telegram_id", "seq", "status"]
        rows = select(
            literal(shot_id),
            literal(bot_slug),
            audience.c.telegram_id,
            audience.c.seq,
            literal(PENDING),
        )
        await conn.execute(insert(shots_sent).from_select(columns, rows))
        total = int(await conn.scalar(select(func.count()).where(s.shot_id == shot_id)) or 0)
        values: dict[str, Any] = {"audience_total": total, "updated_at": now}
        if total == 0:
            values.update(
                status=ShotStatus.SKIPPED.value,
                last_error="the audience is empty: no reachable contact matches the target",
                finished_at=now,
                locked_by=None,
                lease_expires_at=None,
            )
        await conn.execute(update(shots_queue).where(q.id == shot_id).values(**values))
        return total


# The reservation runs once per bot per second of traffic: plain SQL, compiled once. Literal
# states come from the enums, never from input.
_REACHABLE_SQL = ", ".join(f"'{state}'" for state in REACHABLE_CHAT_STATES)
_RESERVE_SET = f"""
    status = CASE WHEN p.chat_state IN ({_REACHABLE_SQL}) THEN '{SENDING}' ELSE '{SKIPPED}' END,
    reason = CASE WHEN p.chat_state IN ({_REACHABLE_SQL}) THEN NULL
                  WHEN p.chat_state IS NULL THEN 'ineligible' ELSE p.chat_state END,
    updated_at = :now
"""
_PICK = f"""
    SELECT s.telegram_id, c.chat_state
    FROM shots_sent AS s
    LEFT JOIN telegram_contacts AS c ON c.bot_slug = s.bot_slug AND c.telegram_id = s.telegram_id
    WHERE s.shot_id = :shot_id AND s.status = '{PENDING}'
"""  # noqa: S608 - only constants are formatted in; values are bound
_RESERVE_PARAMS = (
    bindparam("shot_id", type_=BigInteger()),
    bindparam("worker_id", type_=Text()),
    bindparam("now", type_=UTCDateTime()),
    bindparam("limit", type_=Integer()),
)
# PostgreSQL: one round trip. The fence CTE reads the shot row FOR SHARE before any delivery
# moves (the EXISTS is a one-time filter of the pick), so a rescue of this shot either waits
# for this commit and then sees (and marks unknown) what was reserved, or it went first and
# the fence finds the lease gone and nothing moves. The picked ids are computed once and the
# update finds its rows by primary key (= ANY of them), so the plan stays a few index probes
# whatever the statistics (the statement is prepared, and a generic plan must not rescan the
# pick per pending row).
_RESERVE_PG = text(
    f"""
    WITH fence AS (
        SELECT status, locked_by, lease_expires_at FROM shots_queue WHERE id = :shot_id FOR SHARE
    ), picked AS MATERIALIZED (
        {_PICK}
          AND EXISTS (SELECT 1 FROM fence WHERE fence.status = '{ShotStatus.RUNNING.value}'
                      AND fence.locked_by = :worker_id AND fence.lease_expires_at > :now)
        ORDER BY s.seq
        LIMIT :limit
    ), moved AS (
        UPDATE shots_sent AS s SET {_RESERVE_SET}
        FROM picked AS p
        WHERE s.shot_id = :shot_id
          AND s.telegram_id = ANY(ARRAY(SELECT telegram_id FROM picked))
          AND s.telegram_id = p.telegram_id
        RETURNING s.telegram_id, s.seq, s.status, s.reason
    )
    SELECT f.status AS shot_status,
           (f.locked_by = :worker_id AND f.lease_expires_at > :now) AS owned,
           m.telegram_id, m.seq, m.status, m.reason
    FROM fence AS f LEFT JOIN moved AS m ON true
    """  # noqa: S608 - only constants are formatted in; values are bound
).bindparams(*_RESERVE_PARAMS)
_RESERVE_PG_SQL = driver_sql(_RESERVE_PG)


class _Reserved(NamedTuple):
    shot_status: str
    owned: bool | None
    telegram_id: int | None
    seq: int | None
    status: str | None
    reason: str | None


# SQLite: the write transaction is BEGIN IMMEDIATE, so nothing runs between the two statements.
_FENCE_SQLITE = text(
    "SELECT status AS shot_status, (locked_by = :worker_id AND lease_expires_at > :now) AS owned "
    "FROM shots_queue WHERE id = :shot_id"
).bindparams(*_RESERVE_PARAMS[:3])
_RESERVE_SQLITE = text(
    f"""
    UPDATE shots_sent SET {_RESERVE_SET}
    FROM ({_PICK} ORDER BY s.seq LIMIT :limit) AS p
    WHERE shots_sent.shot_id = :shot_id AND shots_sent.telegram_id = p.telegram_id
      AND shots_sent.status = '{PENDING}'
    RETURNING telegram_id, seq, status, reason
    """  # noqa: S608 - only constants are formatted in; values are bound
).bindparams(_RESERVE_PARAMS[0], _RESERVE_PARAMS[2], _RESERVE_PARAMS[3])


async def reserve_batch(
    db: Database, shot_id: int, *, worker_id: str, now: datetime, limit: int
) -> Reservation:
    """Move up to `limit` pending deliveries, in send order, to `sending` for this worker.

    Deliveries whose contact blocked the bot, deleted their account or disappeared since the
    snapshot are skipped here (reason blocked, deactivated or ineligible) instead of reserved.
    Nothing moves unless the shot is running and its lease is this worker's and unexpired.
    """
    params = {"shot_id": shot_id, "worker_id": worker_id, "now": now, "limit": limit}
    result: Sequence[Any] = ()
    if db.is_sqlite:
        async with db.write() as conn:
            fence = (await conn.execute(_FENCE_SQLITE, params)).first()
            if fence is not None and fence.owned and fence.shot_status == ShotStatus.RUNNING:
                result = (await conn.execute(_RESERVE_SQLITE, params)).all()
    else:
        # One statement, its own transaction: committed before any row is returned to send.
        assert db.raw is not None
        result = [_Reserved(*row) for row in await db.raw.fetchall(_RESERVE_PG_SQL, params)]
        fence = result[0] if result else None
        result = [r for r in result if r.telegram_id is not None]
    if fence is None or not fence.owned:
        return Reservation("lost", [], {})
    if fence.shot_status != ShotStatus.RUNNING.value:
        return Reservation(str(fence.shot_status), [], {})
    rows = sorted(
        (Reserved(r.telegram_id, r.seq) for r in result if r.status == SENDING),
        key=lambda r: r.seq,
    )
    skipped = Counter(str(r.reason) for r in result if r.status != SENDING)
    return Reservation("ok", rows, dict(skipped))


_RECORD_PG = text(
    """
    UPDATE shots_sent AS s
    SET status = v.status, reason = v.reason, error = v.error, message_id = v.message_id,
        sent_at = v.sent_at, attempts = v.attempts, updated_at = :now
    FROM unnest(
        CAST(:shot_ids AS bigint[]), CAST(:telegram_ids AS bigint[]), CAST(:statuses AS text[]),
        CAST(:reasons AS text[]), CAST(:errors AS text[]), CAST(:message_ids AS bigint[]),
        CAST(:sent_ats AS timestamptz[]), CAST(:attempts AS integer[])
    ) AS v(shot_id, telegram_id, status, reason, error, message_id, sent_at, attempts)
    WHERE s.shot_id = v.shot_id AND s.telegram_id = v.telegram_id AND s.status = 'sending'
    """
)
_CONTACTS_PG = text(
    """
    UPDATE telegram_contacts AS t
    SET chat_state = v.chat_state, blocked_at = :now, updated_at = :now
    FROM unnest(CAST(:bot_slugs AS text[]), CAST(:telegram_ids AS bigint[]),
                CAST(:chat_states AS text[])) AS v(bot_slug, telegram_id, chat_state)
    WHERE t.bot_slug = v.bot_slug AND t.telegram_id = v.telegram_id
      AND t.chat_state <> v.chat_state
    """
)
_RECORD_ONE = (
    update(shots_sent)
    .where(
        s.shot_id == bindparam("k_shot_id"),
        s.telegram_id == bindparam("k_telegram_id"),
        s.status == SENDING,
    )
    .values(
        status=bindparam("v_status", type_=Text()),
        reason=bindparam("v_reason", type_=Text()),
        error=bindparam("v_error", type_=Text()),
        message_id=bindparam("v_message_id"),
        sent_at=bindparam("v_sent_at", type_=UTCDateTime()),
        attempts=bindparam("v_attempts", type_=Integer()),
        updated_at=bindparam("v_now", type_=UTCDateTime()),
    )
)
_CONTACT_ONE = (
    update(telegram_contacts)
    .where(
        c.bot_slug == bindparam("k_bot_slug"),
        c.telegram_id == bindparam("k_telegram_id"),
        c.chat_state != bindparam("v_chat_state"),
    )
    .values(
        chat_state=bindparam("v_chat_state"),
        blocked_at=bindparam("v_now", type_=UTCDateTime()),
        updated_at=bindparam("v_now", type_=UTCDateTime()),
    )
)


async def record_outcomes(
    db: Database,
    outcomes: Sequence[DeliveryOutcome],
    contact_changes: Sequence[ContactChange] = (),
    *,
    now: datetime,
) -> None:
    """Write a batch of final outcomes (only over `sending`) and prune unreachable contacts."""
    if not outcomes and not contact_changes:
        return
    async with db.write() as conn:
        if conn.dialect.name == "postgresql":
            await _record_pg(conn, outcomes, contact_changes, now)
        else:
            await _record_each(conn, outcomes, contact_changes, now)


async def _record_pg(
    conn: AsyncConnection,
    outcomes: Sequence[DeliveryOutcome],
    changes: Sequence[ContactChange],
    now: datetime,
) -> None:
    if outcomes:
        await conn.execute(
            _RECORD_PG,
            {
                "now": now,
                "shot_ids": [o.shot_id for o in outcomes],
                "telegram_ids": [o.telegram_id for o in outcomes],
                "statuses": [o.status for o in outcomes],
                "reasons": [o.reason for o in outcomes],
                "errors": [o.error for o in outcomes],
                "message_ids": [o.message_id for o in outcomes],
                "sent_ats": [o.sent_at for o in outcomes],
                "attempts": [o.attempts for o in outcomes],
            },
        )
    if changes:
        await conn.execute(
            _CONTACTS_PG,
            {
                "now": now,
                "bot_slugs": [ch.bot_slug for ch in changes],
                "telegram_ids": [ch.telegram_id for ch in changes],
                "chat_states": [ch.chat_state for ch in changes],
            },
        )


async def _record_each(
    conn: AsyncConnection,
    outcomes: Sequence[DeliveryOutcome],
    changes: Sequence[ContactChange],
    now: datetime,
) -> None:
    if outcomes:
        await conn.execute(
            _RECORD_ONE,
            [
                {
                    "k_shot_id": o.shot_id,
                    "k_telegram_id": o.telegram_id,
                    "v_status": o.status,
                    "v_reason": o.reason,
                    "v_error": o.error,
                    "v_message_id": o.message_id,
                    "v_sent_at": o.sent_at,
                    "v_attempts": o.attempts,
                    "v_now": now,
                }
                for o in outcomes
            ],
        )
    if changes:
        await conn.execute(
            _CONTACT_ONE,
            [
                {
                    "k_bot_slug": ch.bot_slug,
                    "k_telegram_id": ch.telegram_id,
                    "v_chat_state": ch.chat_state,
                    "v_now": now,
                }
                for ch in changes
            ],
        )


async def return_unsent(
    conn: AsyncConnection, shot_id: int, telegram_ids: Collection[int], *, now: datetime
) -> int:
    """Put reserved deliveries that were never sent back to `pending` (the reserver's call)."""
    if not telegram_ids:
        return 0
    query = (
        update(shots_sent)
        .where(s.shot_id == shot_id, s.telegram_id.in_(list(telegram_ids)), s.status == SENDING)
        .values(status=PENDING, updated_at=now)
    )
    return int((await conn.execute(query)).rowcount or 0)


async def mark_sending_unknown(
    conn: AsyncConnection, shot_id: int, *, now: datetime, reason: str = "worker_lost"
) -> int:
    """Deliveries left `sending` become `unknown`: a request may have gone; never resent."""
    query = (
        update(shots_sent)
        .where(s.shot_id == shot_id, s.status == SENDING)
        .values(status=UNKNOWN, reason=reason, error=LOST_ERROR, updated_at=now)
    )
    return int((await conn.execute(query)).rowcount or 0)


async def _counts(conn: AsyncConnection, shot_id: int) -> dict[str, int]:
    query = select(s.status, func.count()).where(s.shot_id == shot_id).group_by(s.status)
    return {str(status): int(count) for status, count in await conn.execute(query)}


async def delivery_counts(db: Database, shot_id: int) -> dict[str, int]:
    """How many of the shot's deliveries are in each status."""
    async with db.read() as conn:
        return await _counts(conn, shot_id)


async def _error_summary(conn: AsyncConnection, shot_id: int, errors: int) -> str:
    query = (
        select(s.error, func.count().label("n"))
        .where(s.shot_id == shot_id, s.status == DeliveryStatus.ERROR.value)
        .group_by(s.error)
        .order_by(func.count().desc())
        .limit(1)
    )
    top = (await conn.execute(query)).first()
    common = f"; most often: {top.error} ({top.n})" if top is not None else ""
    return f"{errors} deliveries failed{common}"


async def finish_shot(
    db: Database,
    shot_id: int,
    *,
    worker_id: str,
    now: datetime,
    status: ShotStatus = ShotStatus.SENT,
    last_error: str | None = None,
    unsent: Collection[int] = (),
) -> dict[str, int] | None:
    """End the shot this worker owns as `status` and free it; the final counts by outcome.

    `unsent` (reserved, never sent) go back to pending; deliveries never attempted stay pending
    when the shot ends in error (docs/engine.md explains why). A shot the operator cancelled
    meanwhile stays cancelled. None when the lease was no longer ours.
    """
    async with db.write(wake=True) as conn:
        row = await _owned(conn, shot_id, worker_id, lock=True)
        if row is None:
            return None
        await return_unsent(conn, shot_id, unsent, now=now)
        await mark_sending_unknown(conn, shot_id, now=now, reason="unaccounted")
        counts = await _counts(conn, shot_id)
        errors = counts.get(DeliveryStatus.ERROR.value, 0)
        if last_error is None and errors:
            last_error = await _error_summary(conn, shot_id, errors)
        final = row.status if row.status == ShotStatus.CANCELLED.value else status.value
        await conn.execute(
            update(shots_queue)
            .where(q.id == shot_id)
            .values(
                status=final,
                last_error=last_error,
                finished_at=now,
                locked_by=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
        return counts


async def finish_cancelled(
    db: Database, shot_id: int, *, worker_id: str, now: datetime, unsent: Collection[int] = ()
) -> dict[str, int] | None:
    """Close a shot the operator cancelled while this worker sent it.

    Every delivery never sent (still pending, or reserved and not sent) ends `skipped` with
    reason `cancelled`, so each audience member has one final outcome. None when not ours.
    """
    async with db.write() as conn:
        row = await _owned(conn, shot_id, worker_id, lock=True)
        if row is None:
            return None
        never_sent = s.status == PENDING
        if unsent:
            never_sent = or_(never_sent, and_(s.status == SENDING, s.telegram_id.in_(list(unsent))))
        await conn.execute(
            update(shots_sent)
            .where(s.shot_id == shot_id, never_sent)
            .values(status=SKIPPED, reason="cancelled", updated_at=now)
        )
        await mark_sending_unknown(conn, shot_id, now=now, reason="unaccounted")
        await conn.execute(
            update(shots_queue)
            .where(q.id == shot_id)
            .values(locked_by=None, lease_expires_at=None, updated_at=now)
        )
        return await _counts(conn, shot_id)


async def settle_cancelled(db: Database, *, now: datetime) -> int:
    """Deliveries still pending in cancelled, unlocked shots end `skipped` (cancelled)."""
    cancelled = select(q.id).where(q.status == ShotStatus.CANCELLED.value, q.locked_by.is_(None))
    pending = select(s.shot_id).where(s.shot_id.in_(cancelled), s.status == PENDING).limit(1)
    async with db.read() as conn:
        if (await conn.execute(pending)).first() is None:
            return 0
    async with db.write() as conn:
        query = (
            update(shots_sent)
            .where(s.shot_id.in_(cancelled), s.status == PENDING)
            .values(status=SKIPPED, reason="cancelled", updated_at=now)
        )
        return int((await conn.execute(query)).rowcount or 0)
