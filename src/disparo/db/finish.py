"""The end of a shot its worker sent: the shot row freed as sent, error or cancelled, with every
delivery given a final outcome and the counts by outcome returned; and the sweep that settles
cancelled shots nobody holds.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.deliveries import owned_shot
from disparo.db.engine import Database
from disparo.db.outcomes import mark_sending_unknown, return_unsent
from disparo.db.tables import shots_queue, shots_sent
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import DeliveryStatus, ShotStatus

s = shots_sent.c
q = shots_queue.c
SENDING = DeliveryStatus.SENDING.value
PENDING = DeliveryStatus.PENDING.value
SKIPPED = DeliveryStatus.SKIPPED.value
CANCELLED = Reason.CANCELLED.value


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
        row = await owned_shot(conn, shot_id, worker_id)
        if row is None:
            return None
        never_sent = s.status == PENDING
        if unsent:
            never_sent = or_(never_sent, and_(s.status == SENDING, s.telegram_id.in_(list(unsent))))
        await conn.execute(
            update(shots_sent)
            .where(s.shot_id == shot_id, never_sent)
            .values(status=SKIPPED, reason=CANCELLED, updated_at=now)
        )
        await mark_sending_unknown(conn, shot_id, now=now, reason=Reason.UNACCOUNTED)
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
            .values(status=SKIPPED, reason=CANCELLED, updated_at=now)
        )
        return int((await conn.execute(query)).rowcount or 0)
