"""The end of a shot its worker sent: the shot row freed as sent, error, cancelled or expired,
with every delivery given a final outcome and the counts by outcome returned; and the sweeps
that settle cancelled shots and expire shots nobody holds.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.deliveries import owned_shot
from disparo.db.engine import Database
from disparo.db.outcomes import mark_sending_unknown, return_unsent
from disparo.db.tables import shots_queue, shots_sent
from disparo.db.webhook_events import record_shots_ended
from disparo.db.winner import wait_for_winner
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import DeliveryStatus, ShotStatus

s = shots_sent.c
q = shots_queue.c
SENDING = DeliveryStatus.SENDING.value
PENDING = DeliveryStatus.PENDING.value
SKIPPED = DeliveryStatus.SKIPPED.value
CANCELLED = Reason.CANCELLED.value
EXPIRED = Reason.EXPIRED.value
_EXPIRABLE = (ShotStatus.PENDING.value, ShotStatus.PAUSED.value)


def expiry_message(expires_at: datetime, skipped: int, *, started: bool) -> str:
    """The last_error of a shot that expired: when, and what it left unsent."""
    when = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if not started:
        return f"the shot expired at {when} before it started; nothing was sent"
    return f"the shot expired at {when}; {skipped} deliveries never sent were skipped (expired)"


async def _counts(conn: AsyncConnection, shot_id: int) -> dict[str, int]:
    query = select(s.status, func.count()).where(s.shot_id == shot_id).group_by(s.status)
    return {str(status): int(count) for status, count in await conn.execute(query)}


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
        row = await owned_shot(conn, shot_id, worker_id)
        if row is None:
            return None
        await return_unsent(conn, shot_id, unsent, now=now)
        await mark_sending_unknown(conn, shot_id, now=now, reason=Reason.UNACCOUNTED)
        counts = await _counts(conn, shot_id)
        done = status is ShotStatus.SENT and row.status != ShotStatus.CANCELLED.value
        if done and await wait_for_winner(conn, shot_id, now=now):
            return counts  # the test share is done: pending until the winner is chosen
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
        await record_shots_ended(conn, [shot_id], now=now)
        return counts


async def finish_cancelled(
    db: Database, shot_id: int, *, worker_id: str, now: datetime, unsent: Collection[int] = ()
) -> dict[str, int] | None:
    """Close a shot the operator cancelled while this worker sent it.

    Every delivery never sent (still pending, or reserved and not sent) ends `skipped` with
    reason `cancelled`, so each audience member has one final outcome. None when not ours.
    """
    async with db.write() as conn:
        row = await owned_shot(conn, shot_id, worker_id)
        if row is None:
            return None
        await _skip_never_sent(conn, shot_id, unsent, reason=CANCELLED, now=now)
        await mark_sending_unknown(conn, shot_id, now=now, reason=Reason.UNACCOUNTED)
        await conn.execute(
            update(shots_queue)
            .where(q.id == shot_id)
            .values(locked_by=None, lease_expires_at=None, updated_at=now)
        )
        await record_shots_ended(conn, [shot_id], now=now)
        return await _counts(conn, shot_id)


async def finish_expired(
    db: Database, shot_id: int, *, worker_id: str, now: datetime, unsent: Collection[int] = ()
) -> dict[str, int] | None:
    """End a shot whose `expires_at` passed while this worker held it: status `expired`.

    Every delivery never sent (still pending, or reserved and not sent) ends `skipped` with
    reason `expired`; a shot that expired before its snapshot has none and says so in
    last_error. A shot the operator cancelled meanwhile ends as a cancel does. None when the
    lease was no longer ours.
    """
    async with db.write(wake=True) as conn:
        row = await owned_shot(conn, shot_id, worker_id)
        if row is None:
            return None
        cancelled = row.status == ShotStatus.CANCELLED.value
        reason = CANCELLED if cancelled else EXPIRED
        skipped = await _skip_never_sent(conn, shot_id, unsent, reason=reason, now=now)
        await mark_sending_unknown(conn, shot_id, now=now, reason=Reason.UNACCOUNTED)
        values: dict[str, object] = {"locked_by": None, "lease_expires_at": None, "updated_at": now}
        if not cancelled:
            started = row.audience_total is not None
            values.update(
                status=ShotStatus.EXPIRED.value,
                finished_at=now,
                last_error=expiry_message(row.expires_at or now, skipped, started=started),
            )
        await conn.execute(update(shots_queue).where(q.id == shot_id).values(**values))
        await record_shots_ended(conn, [shot_id], now=now)
        return await _counts(conn, shot_id)


async def _skip_never_sent(
    conn: AsyncConnection, shot_id: int, unsent: Collection[int], *, reason: str, now: datetime
) -> int:
    """Pending deliveries, and the reserved-but-unsent `unsent`, end skipped; how many."""
    never_sent = s.status == PENDING
    if unsent:
        never_sent = or_(never_sent, and_(s.status == SENDING, s.telegram_id.in_(list(unsent))))
    result = await conn.execute(
        update(shots_sent)
        .where(s.shot_id == shot_id, never_sent)
        .values(status=SKIPPED, reason=reason, updated_at=now)
    )
    return int(result.rowcount or 0)


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
            .values(status=SKIPPED, reason=CANCELLED, updated_at=now)
        )
        return int((await conn.execute(query)).rowcount or 0)


async def expire_shots(db: Database, *, now: datetime) -> list[int]:
    """Unlocked pending or paused shots whose `expires_at` passed end `expired` (finished_at
    set, last_error saying when), their pending deliveries skipped (expired); their ids.

    So a paused shot, or one never claimed, expires without a worker taking it. A locked one is
    its worker's to end (or the rescue's to free first).
    """
    due = select(q.id, q.expires_at, q.audience_total).where(
        q.status.in_(_EXPIRABLE), q.locked_by.is_(None), q.expires_at <= now
    )
    async with db.read() as conn:
        if (await conn.execute(due.limit(1))).first() is None:
            return []  # the usual case: no write transaction at all
    expired: list[int] = []
    async with db.write() as conn:
        for row in (await conn.execute(due.with_for_update(skip_locked=True))).all():
            skipped = await _skip_never_sent(conn, row.id, (), reason=EXPIRED, now=now)
            started = row.audience_total is not None
            await conn.execute(
                update(shots_queue)
                .where(q.id == row.id)
                .values(
                    status=ShotStatus.EXPIRED.value,
                    finished_at=now,
                    last_error=expiry_message(row.expires_at, skipped, started=started),
                    updated_at=now,
                )
            )
            expired.append(int(row.id))
        await record_shots_ended(conn, expired, now=now)
    return expired
