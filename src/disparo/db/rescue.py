"""The rescue: free the shots whose worker stopped renewing its lease, and judge the dead attempt.

Whatever the dead worker had reserved becomes `unknown` (maybe sent: never retried); the shot
goes back to pending for another worker, or to error once its workers died too often sending it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.engine import Database
from disparo.db.outcomes import mark_sending_unknown
from disparo.db.tables import shots_queue, shots_sent
from disparo.db.webhook_events import record_shots_ended
from disparo.domain.statuses import DeliveryStatus, ShotStatus

q = shots_queue.c
MAX_ATTEMPTS = 3  # the spec's rule: a shot whose worker died this often ends in error
_LOCKABLE = (ShotStatus.RUNNING.value, ShotStatus.PAUSED.value, ShotStatus.CANCELLED.value)


@dataclass(frozen=True, slots=True)
class RescuedShot:
    """A shot whose worker stopped renewing its lease, and what became of it."""

    id: int
    bot_slug: str
    status: ShotStatus  # the status it was left in: pending (to retry), error, paused, cancelled
    unknown: int  # deliveries that were in flight and are now `unknown`


_PROGRESS = (
    DeliveryStatus.SENT.value,
    DeliveryStatus.SKIPPED.value,
    DeliveryStatus.ERROR.value,
)


async def progressed_since(conn: AsyncConnection, shot_id: int, since: datetime) -> bool:
    """True if a delivery of the shot got a final outcome (not `unknown`) at or after `since`.

    `since` is the shot row's `updated_at`, which its claim sets and lease renewals leave alone,
    so this tells whether the current attempt recorded anything (only the rescue asks).
    """
    query = (
        select(shots_sent.c.telegram_id)
        .where(
            shots_sent.c.shot_id == shot_id,
            shots_sent.c.status.in_(_PROGRESS),
            shots_sent.c.updated_at >= since,
        )
        .limit(1)
    )
    return (await conn.execute(query)).first() is not None


async def _failed_attempts(conn: AsyncConnection, row: Any) -> int:
    """The shot's count of consecutive failed attempts once its dead attempt is judged."""
    if await progressed_since(conn, row.id, row.updated_at):
        return 0  # it recorded outcomes: the shot is not what kills its workers
    reserved = select(func.count()).where(
        shots_sent.c.shot_id == row.id, shots_sent.c.status == DeliveryStatus.SENDING.value
    )
    if row.audience_total is not None and not await conn.scalar(reserved):
        return max(0, int(row.attempt_count) - 1)  # it died before sending anything
    return int(row.attempt_count)


async def rescue_expired(
    db: Database, *, now: datetime, worker_id: str | None = None, keeping: Collection[int] = ()
) -> list[RescuedShot]:
    """Free the shots whose worker stopped renewing its lease.

    Their `sending` deliveries become `unknown` (maybe sent: never retried); a running shot goes
    back to pending for another worker, or to error after MAX_ATTEMPTS; a paused or cancelled
    one keeps its status. The shot row is updated first so a reservation racing with the rescue
    either commits before it (and its rows are then marked unknown) or sees the lease gone.

    `attempt_count` counts the consecutive attempts that died without recording anything (the
    spec's three-attempt rule, aimed at a shot that kills its worker): an attempt that recorded
    outcomes made progress and clears the count; one that died after the snapshot but holding
    no reserved delivery sent nothing, so its sends cannot have killed it, and is not counted.
    A long shot thus survives any number of crashes and restarts, while a shot whose snapshot
    or sends keep killing its worker ends in error after three attempts.

    The calling worker (`worker_id`) leaves alone the shots it is still `keeping`: its lease
    ran out only because the database was away, it will renew it, and the outcomes it holds in
    memory are then written instead of being turned `unknown`.
    """
    expired = select(
        q.id, q.bot_slug, q.locked_by, q.status, q.attempt_count, q.updated_at, q.audience_total
    ).where(q.status.in_(_LOCKABLE), q.locked_by.is_not(None), q.lease_expires_at < now)
    if worker_id is not None and keeping:
        expired = expired.where(~and_(q.locked_by == worker_id, q.id.in_(list(keeping))))
    async with db.read() as conn:
        if not (await conn.execute(expired.limit(1))).first():
            return []  # the usual case: no write transaction at all
    rescued: list[RescuedShot] = []
    async with db.write(wake=True) as conn:
        for row in (await conn.execute(expired.with_for_update(skip_locked=True))).all():
            status = row.status
            last_error = None
            attempts = row.attempt_count
            if status == ShotStatus.RUNNING.value:
                attempts = await _failed_attempts(conn, row)
                if attempts >= MAX_ATTEMPTS:
                    status = ShotStatus.ERROR.value
                    last_error = (
                        f"the workers sending this shot stopped {attempts} times without "
                        "recording any outcome (crash or lost database connection); check the "
                        "workers' logs, then create the shot again for the deliveries left"
                    )
                else:
                    status = ShotStatus.PENDING.value
            values: dict[str, Any] = {
                "status": status,
                "attempt_count": attempts,
                "locked_by": None,
                "lease_expires_at": None,
                "updated_at": now,
            }
            if last_error is not None:
                values["last_error"] = last_error
                values["finished_at"] = now
            freed = await conn.execute(
                update(shots_queue)
                .where(q.id == row.id, q.locked_by == row.locked_by, q.lease_expires_at < now)
                .values(**values)
            )
            if freed.rowcount == 0:
                continue
            unknown = await mark_sending_unknown(conn, row.id, now=now)
            rescued.append(RescuedShot(row.id, row.bot_slug, ShotStatus(status), unknown))
        failed = [shot.id for shot in rescued if shot.status is ShotStatus.ERROR]
        await record_shots_ended(conn, failed, now=now)
    return rescued
