"""Recall and edit jobs in the database: created by the API, claimed and leased by a worker,
their recipients reserved in batches and their outcomes recorded, as a shot's deliveries are.

Guarantees, as for sending: an item is reserved (`sending`) before its request and recorded
only over `sending`; a worker that dies leaves its `sending` items to the next claim, which
records them `unknown` (the request may have gone) and never repeats them. A job runs only
while its bot has no running shot, and a shot does not start while its bot has a running job
(both claims take the same lock on PostgreSQL; SQLite writes one at a time), so the two share
the bot's rate by turns and never exceed it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.engine import Database
from disparo.db.experiment import variants_of
from disparo.db.job_items import mark_lost, snapshot_items
from disparo.db.tables import shots_queue, shots_sent
from disparo.db.tables_campaign import shot_variants
from disparo.db.tables_jobs import shot_job_items, shot_jobs
from disparo.domain.experiment import Variant
from disparo.domain.jobs import ItemStatus, JobKind, JobStatus, Outcome
from disparo.domain.statuses import DeliveryStatus, ShotStatus

j = shot_jobs.c
i = shot_job_items.c
q = shots_queue.c
s = shots_sent.c
CLAIM_LOCK = 7_270_001  # pg_advisory_xact_lock key shared by the shot and job claims


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A `shot_jobs` row as the API shows it."""

    id: int
    shot_id: int
    bot_slug: str
    kind: str
    status: str
    copy: str | None
    buttons: Any
    change_buttons: bool
    total: int | None
    last_error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


_RECORD_COLUMNS = [j[name] for name in JobRecord.__slots__]


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker now runs, with what the shot sends (an edit rebuilds it)."""

    id: int
    shot_id: int
    bot_slug: str
    kind: JobKind
    copy: str | None  # the edit's new copy, or None: each recipient's stays
    buttons: Any
    change_buttons: bool
    media_type: str
    media_url: str | None
    shot_copy: str
    shot_buttons: Any
    templated: bool
    track_clicks: bool
    variants: tuple[Variant, ...]


async def claim_lock(conn: AsyncConnection) -> None:
    """Serialize the claims of shots and jobs across workers (PostgreSQL; SQLite's write
    transactions already are)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})


def bot_has_running_job(bot_slug: Any) -> Any:
    """Whether the bot has a running job (a shot of it must wait)."""
    return exists().where(j.bot_slug == bot_slug, j.status == JobStatus.RUNNING.value)


async def delivered_count(conn: AsyncConnection, shot_id: int) -> int:
    """How many of the shot's deliveries have a message to recall or edit."""
    query = select(func.count()).where(
        s.shot_id == shot_id, s.status == DeliveryStatus.SENT.value, s.message_id.is_not(None)
    )
    return int((await conn.execute(query)).scalar_one())


async def active_job(conn: AsyncConnection, shot_id: int) -> JobRecord | None:
    """The shot's job that has not ended, if any."""
    active = [status.value for status in (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED)]
    query = select(*_RECORD_COLUMNS).where(j.shot_id == shot_id, j.status.in_(active))
    row = (await conn.execute(query)).mappings().first()
    return JobRecord(**row) if row else None


async def insert_job(conn: AsyncConnection, *, now: datetime, **values: Any) -> JobRecord:
    """A new pending job."""
    query = insert(shot_jobs).values(**values, created_at=now, updated_at=now)
    returned = await conn.execute(query.returning(*_RECORD_COLUMNS))
    return JobRecord(**returned.mappings().one())


async def store_edit(
    conn: AsyncConnection, shot_id: int, *, copy: str | None, buttons: Any, change_buttons: bool
) -> None:
    """The shot's content becomes the edit's (every variant's too): later edits start from it
    and tracked links find its URLs."""
    values: dict[str, Any] = {}
    if copy is not None:
        values["copy"] = copy
    if change_buttons:
        values["buttons"] = buttons
    if not values:
        return
    await conn.execute(update(shots_queue).where(q.id == shot_id).values(templated=True, **values))
    await conn.execute(
        update(shot_variants).where(shot_variants.c.shot_id == shot_id).values(**values)
    )


async def get_job(conn: AsyncConnection, job_id: int) -> JobRecord | None:
    """One job, or None."""
    row = (await conn.execute(select(*_RECORD_COLUMNS).where(j.id == job_id))).mappings().first()
    return JobRecord(**row) if row else None


async def shot_jobs_of(conn: AsyncConnection, shot_id: int) -> list[JobRecord]:
    """The shot's jobs, newest first."""
    query = select(*_RECORD_COLUMNS).where(j.shot_id == shot_id).order_by(j.id.desc())
    return [JobRecord(**row) for row in (await conn.execute(query)).mappings()]


def _claimable(now: datetime, skip_bots: Collection[str]) -> Any:
    running_shot = exists().where(
        q.bot_slug == j.bot_slug,
        or_(q.status == ShotStatus.RUNNING.value, q.locked_by.is_not(None)),
    )
    other = shot_jobs.alias("other")
    other_job = exists().where(
        other.c.bot_slug == j.bot_slug, other.c.status == "running", other.c.id != j.id
    )
    lost = and_(j.status == JobStatus.RUNNING.value, j.lease_expires_at < now)
    query = (
        select(j.id, j.status)
        .where(or_(j.status == JobStatus.PENDING.value, lost), ~running_shot, ~other_job)
        .order_by(j.created_at, j.id)
        .limit(1)
    )
    return query.where(j.bot_slug.not_in(list(skip_bots))) if skip_bots else query


async def claim_job(
    db: Database,
    *,
    worker_id: str,
    now: datetime,
    lease_expires_at: datetime,
    skip_bots: Collection[str] = (),
) -> ClaimedJob | None:
    """Take the oldest claimable job (pending, or running under an expired lease) of a bot
    without a running shot or job; its snapshot taken on its first claim. None when none."""
    due = or_(
        j.status == JobStatus.PENDING.value,
        and_(j.status == JobStatus.RUNNING.value, j.lease_expires_at < now),
    )
    async with db.read() as conn:  # most ticks find none: no write transaction for them
        if (await conn.execute(select(j.id).where(due).limit(1))).first() is None:
            return None
    async with db.write() as conn:
        await claim_lock(conn)
        row = (await conn.execute(_claimable(now, skip_bots))).first()
        if row is None:
            return None
        job_id = row.id
        if row.status == JobStatus.RUNNING.value:
            await mark_lost(conn, job_id, now)
        job = await conn.execute(
            update(shot_jobs)
            .where(j.id == job_id)
            .values(
                status=JobStatus.RUNNING.value,
                locked_by=worker_id,
                lease_expires_at=lease_expires_at,
                started_at=func.coalesce(j.started_at, now),
                updated_at=now,
            )
            .returning(j.id, j.shot_id, j.kind, j.copy, j.buttons, j.change_buttons, j.total)
        )
        taken = job.mappings().one()
        if taken["total"] is None:
            total = await snapshot_items(conn, job_id, taken["shot_id"])
            await conn.execute(update(shot_jobs).where(j.id == job_id).values(total=total))
        shot = (
            await conn.execute(
                select(
                    q.bot_slug, q.media_type, q.media_url, q.copy, q.buttons, q.templated,
                    q.track_clicks,
                ).where(q.id == taken["shot_id"])
            )
        ).one()  # fmt: skip
        variants = (await variants_of(conn, [taken["shot_id"]])).get(taken["shot_id"], ())
    return ClaimedJob(
        id=job_id,
        shot_id=taken["shot_id"],
        bot_slug=shot.bot_slug,
        kind=JobKind(taken["kind"]),
        copy=taken["copy"],
        buttons=taken["buttons"],
        change_buttons=bool(taken["change_buttons"]),
        media_type=shot.media_type,
        media_url=shot.media_url,
        shot_copy=shot.copy,
        shot_buttons=shot.buttons,
        templated=bool(shot.templated),
        track_clicks=bool(shot.track_clicks),
        variants=tuple(variants),
    )


async def job_state(db: Database, job_id: int, worker_id: str) -> str | None:
    """The job's status while this worker holds it; None when its lease is not ours."""
    async with db.read() as conn:
        row = (await conn.execute(select(j.status, j.locked_by).where(j.id == job_id))).first()
    return row.status if row is not None and row.locked_by == worker_id else None


async def renew_lease(db: Database, job_id: int, worker_id: str, until: datetime) -> bool:
    """Extend this worker's lease; False when the job is no longer ours."""
    async with db.write() as conn:
        result = await conn.execute(
            update(shot_jobs)
            .where(j.id == job_id, j.locked_by == worker_id)
            .values(lease_expires_at=until)
        )
    return bool(result.rowcount)


async def settle_job(
    db: Database,
    job_id: int,
    *,
    worker_id: str,
    now: datetime,
    last_error: str | None = None,
) -> str:
    """End this worker's run of the job as its items and status say: `done` when nothing is
    left, `cancelled` (what is left skipped, cancelled) or `error` (left as is), `paused` or back
    to `pending` (a shutdown) otherwise. Items still `sending` become unknown. The final status."""
    async with db.write() as conn:
        status = (
            await conn.execute(select(j.status).where(j.id == job_id, j.locked_by == worker_id))
        ).scalar()
        if status is None:
            return "lost"
        await mark_lost(conn, job_id, now)
        left = await conn.scalar(
            select(func.count()).where(i.job_id == job_id, i.status == ItemStatus.PENDING.value)
        )
        if last_error is not None:
            final = JobStatus.ERROR.value
        elif status == JobStatus.CANCELLED.value:
            final = status
            await conn.execute(
                update(shot_job_items)
                .where(i.job_id == job_id, i.status == ItemStatus.PENDING.value)
                .values(
                    status=ItemStatus.SKIPPED.value, outcome=Outcome.CANCELLED.value, updated_at=now
                )
            )
        elif not left:
            final = JobStatus.DONE.value
        elif status == JobStatus.PAUSED.value:
            final = status
        else:
            final = JobStatus.PENDING.value
        ended = final in (JobStatus.DONE.value, JobStatus.CANCELLED.value, JobStatus.ERROR.value)
        await conn.execute(
            update(shot_jobs)
            .where(j.id == job_id)
            .values(
                status=final,
                locked_by=None,
                lease_expires_at=None,
                last_error=last_error,
                finished_at=now if ended else None,
                updated_at=now,
            )
        )
    return final


async def set_job_status(
    conn: AsyncConnection,
    job_id: int,
    status: JobStatus,
    allowed: Iterable[JobStatus],
    now: datetime,
) -> bool:
    """Move the job to `status` if it is in one of `allowed`; False otherwise."""
    result = await conn.execute(
        update(shot_jobs)
        .where(j.id == job_id, j.status.in_([a.value for a in allowed]))
        .values(status=status.value, updated_at=now)
    )
    return bool(result.rowcount)
