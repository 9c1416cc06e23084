"""A recall or edit job's items: the snapshot of the shot's delivered messages, reserved in
batches (`sending` before a request), their outcomes recorded only over `sending`, and what is
left of them when the job stops (docs in `disparo.db.jobs`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, case, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.engine import Database
from disparo.db.tables import shots_sent
from disparo.db.tables_jobs import shot_job_items, shot_jobs
from disparo.domain.jobs import DELETE_WINDOW, ItemStatus, JobKind, JobStatus, Outcome
from disparo.domain.statuses import DeliveryStatus

i = shot_job_items.c
j = shot_jobs.c
s = shots_sent.c
LOST_ERROR = "the worker doing it stopped answering before recording the result"


@dataclass(frozen=True, slots=True)
class JobItem:
    """One recipient's message, reserved for its request."""

    telegram_id: int
    message_id: int
    audio_message_id: int | None
    variant: str | None


async def snapshot_items(conn: AsyncConnection, job_id: int, shot_id: int) -> int:
    """The job's items: every delivered message of the shot, in send order."""
    columns = (s.telegram_id, s.seq, s.message_id, s.audio_message_id, s.variant, s.sent_at)
    source = select(literal(job_id, BigInteger()), *columns).where(
        s.shot_id == shot_id,
        s.status == DeliveryStatus.SENT.value,
        s.message_id.is_not(None),
        s.sent_at.is_not(None),
    )
    names = ["job_id", "telegram_id", "seq", "message_id", "audio_message_id", "variant", "sent_at"]
    await conn.execute(insert(shot_job_items).from_select(names, source))
    counted = select(func.count()).where(i.job_id == job_id)  # rowcount: -1 on some drivers
    return int((await conn.execute(counted)).scalar_one())


async def mark_lost(conn: AsyncConnection, job_id: int, now: datetime) -> None:
    """Items left `sending` by a worker that died: unknown, never repeated."""
    await conn.execute(
        update(shot_job_items)
        .where(i.job_id == job_id, i.status == ItemStatus.SENDING.value)
        .values(
            status=ItemStatus.UNKNOWN.value,
            outcome=Outcome.UNKNOWN.value,
            error=LOST_ERROR,
            updated_at=now,
        )
    )


async def reserve_items(
    db: Database, job_id: int, kind: JobKind, *, limit: int, now: datetime
) -> list[JobItem]:
    """The next `limit` pending items, now `sending`; a recall's message older than Telegram
    lets a bot delete is recorded `too_old` in the same statement instead."""
    batch = (
        select(i.telegram_id)
        .where(i.job_id == job_id, i.status == ItemStatus.PENDING.value)
        .order_by(i.seq)
        .limit(limit)
        .scalar_subquery()
    )
    too_old = i.sent_at < now - DELETE_WINDOW if kind is JobKind.RECALL else literal(False)
    query = (
        update(shot_job_items)
        .where(i.job_id == job_id, i.status == ItemStatus.PENDING.value, i.telegram_id.in_(batch))
        .values(
            status=case((too_old, ItemStatus.SKIPPED.value), else_=ItemStatus.SENDING.value),
            outcome=case((too_old, Outcome.TOO_OLD.value), else_=None),
            updated_at=now,
        )
        .returning(i.telegram_id, i.message_id, i.audio_message_id, i.variant, i.status, i.seq)
    )
    async with db.write() as conn:
        rows = (await conn.execute(query)).all()
    reserved = sorted(
        (r for r in rows if r.status == ItemStatus.SENDING.value), key=lambda r: r.seq
    )
    return [JobItem(r.telegram_id, r.message_id, r.audio_message_id, r.variant) for r in reserved]


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item's final status and outcome, with Telegram's text when it refused."""

    telegram_id: int
    status: ItemStatus
    outcome: Outcome | None  # None only in flight: a call that succeeded, before the item ends
    error: str | None = None


async def record_items(
    db: Database, job_id: int, results: Sequence[ItemResult], *, now: datetime
) -> None:
    """Write a batch of final outcomes, only over `sending`."""
    if not results:
        return
    query = (
        update(shot_job_items)
        .where(
            i.job_id == job_id,
            i.telegram_id == bindparam("k_telegram_id"),
            i.status == ItemStatus.SENDING.value,
        )
        .values(
            status=bindparam("v_status"),
            outcome=bindparam("v_outcome"),
            error=bindparam("v_error"),
            updated_at=now,
        )
    )
    rows = [
        {"k_telegram_id": r.telegram_id, "v_status": r.status.value,
         "v_outcome": r.outcome.value if r.outcome else None, "v_error": r.error}
        for r in results
    ]  # fmt: skip
    async with db.write() as conn:
        await conn.execute(query, rows)


async def return_items(
    db: Database, job_id: int, telegram_ids: Iterable[int], *, now: datetime
) -> None:
    """Reserved items never requested go back to `pending` (a pause or a shutdown)."""
    ids = list(telegram_ids)
    if not ids:
        return
    async with db.write() as conn:
        await conn.execute(
            update(shot_job_items)
            .where(i.job_id == job_id, i.telegram_id.in_(ids), i.status == ItemStatus.SENDING.value)
            .values(status=ItemStatus.PENDING.value, updated_at=now)
        )


async def item_counts(conn: AsyncConnection, job_id: int) -> dict[str, dict[str, int]]:
    """The job's items by status and by outcome."""
    rows = (
        await conn.execute(
            select(i.status, i.outcome, func.count())
            .where(i.job_id == job_id)
            .group_by(i.status, i.outcome)
        )
    ).all()
    by_status: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    for status, outcome, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        if outcome:
            by_outcome[outcome] = by_outcome.get(outcome, 0) + count
    return {"by_status": by_status, "by_outcome": by_outcome}


async def list_items(
    conn: AsyncConnection, job_id: int, *, after_seq: int, limit: int, outcome: str | None
) -> list[Any]:
    """The job's items in send order after `after_seq`, optionally of one outcome."""
    query = (
        select(i.seq, i.telegram_id, i.message_id, i.variant, i.status, i.outcome, i.error,
               i.updated_at)
        .where(i.job_id == job_id, i.seq > after_seq)
        .order_by(i.seq)
        .limit(limit)
    )  # fmt: skip
    if outcome is not None:
        query = query.where(i.outcome == outcome)
    return list((await conn.execute(query)).mappings())


async def cancel_idle_job(conn: AsyncConnection, job_id: int, now: datetime) -> None:
    """A job nobody runs, cancelled: what is left is skipped (cancelled), and it ends now."""
    await conn.execute(
        update(shot_job_items)
        .where(i.job_id == job_id, i.status == ItemStatus.PENDING.value)
        .values(status=ItemStatus.SKIPPED.value, outcome=Outcome.CANCELLED.value, updated_at=now)
    )
    await conn.execute(
        update(shot_jobs)
        .where(j.id == job_id, j.locked_by.is_(None))
        .values(status=JobStatus.CANCELLED.value, finished_at=now, updated_at=now)
    )
