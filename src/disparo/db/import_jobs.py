"""Import jobs in the database: created by the API, their progress written after each chunk by
the process running them (with a heartbeat), and failed with a reason when that process is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables_imports import import_jobs, import_rejections

j = import_jobs.c
r = import_rejections.c
ACTIVE = ("queued", "running")


async def create_import_job(
    conn: AsyncConnection,
    *,
    bot_slug: str,
    kind: str,
    tags_mode: str | None,
    file_format: str,
    total_bytes: int,
    now: datetime,
) -> int:
    """A queued job for a file already received; its id."""
    result = await conn.execute(
        insert(import_jobs)
        .values(
            bot_slug=bot_slug,
            kind=kind,
            tags_mode=tags_mode,
            file_format=file_format,
            total_bytes=total_bytes,
            heartbeat_at=now,
            created_at=now,
            updated_at=now,
        )
        .returning(j.id)
    )
    return int(result.scalar_one())


async def start_import_job(conn: AsyncConnection, job_id: int, now: datetime) -> None:
    """The job is running from `now`."""
    await conn.execute(
        update(import_jobs)
        .where(j.id == job_id)
        .values(status="running", started_at=now, heartbeat_at=now, updated_at=now)
    )


async def record_import_progress(
    conn: AsyncConnection,
    job_id: int,
    *,
    read_bytes: int,
    processed: int,
    valid: int,
    rejected: int,
    rejections: Sequence[dict[str, Any]],
    now: datetime,
) -> None:
    """The counts after a chunk (totals so far) and the chunk's rejections to keep
    (dicts of line, field, reason, raw)."""
    await conn.execute(
        update(import_jobs)
        .where(j.id == job_id)
        .values(
            read_bytes=read_bytes,
            processed=processed,
            valid=valid,
            rejected=rejected,
            heartbeat_at=now,
            updated_at=now,
        )
    )
    if rejections:
        await conn.execute(insert(import_rejections), [{"job_id": job_id, **x} for x in rejections])


async def beat_import_job(conn: AsyncConnection, job_id: int, now: datetime) -> None:
    """The job's process is alive (while a chunk or the final store takes long)."""
    await conn.execute(
        update(import_jobs).where(j.id == job_id, j.status.in_(ACTIVE)).values(heartbeat_at=now)
    )


async def finish_import_job(
    conn: AsyncConnection, job_id: int, *, inserted: int, updated: int, now: datetime
) -> None:
    """The import is stored: done, with how many rows were new and how many updated."""
    await conn.execute(
        update(import_jobs)
        .where(j.id == job_id)
        .values(
            status="done",
            inserted=inserted,
            updated=updated,
            finished_at=now,
            heartbeat_at=now,
            updated_at=now,
        )
    )


async def fail_import_job(conn: AsyncConnection, job_id: int, error: str, now: datetime) -> None:
    """The job failed (nothing of its rows is stored) for `error`."""
    await conn.execute(
        update(import_jobs)
        .where(j.id == job_id, j.status.in_(ACTIVE))
        .values(status="failed", error=error, finished_at=now, updated_at=now)
    )


async def fail_abandoned_import_jobs(
    conn: AsyncConnection, *, silent_since: datetime, error: str, now: datetime
) -> int:
    """Fail every queued or running job whose process has not beaten since `silent_since`
    (it stopped mid-import); how many."""
    result = await conn.execute(
        update(import_jobs)
        .where(j.status.in_(ACTIVE), j.heartbeat_at < silent_since)
        .values(status="failed", error=error, finished_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)


async def get_import_job(
    conn: AsyncConnection, bot_slug: str, job_id: int
) -> dict[str, Any] | None:
    """The job of the bot with this id, or None."""
    row = (
        (await conn.execute(select(import_jobs).where(j.id == job_id, j.bot_slug == bot_slug)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def list_import_jobs(
    conn: AsyncConnection, bot_slug: str, limit: int
) -> list[dict[str, Any]]:
    """The bot's latest jobs, newest first."""
    rows = await conn.execute(
        select(import_jobs).where(j.bot_slug == bot_slug).order_by(j.id.desc()).limit(limit)
    )
    return [dict(row) for row in rows.mappings()]


async def list_import_rejections(
    conn: AsyncConnection, job_id: int, limit: int
) -> list[dict[str, Any]]:
    """The job's kept rejections by line (line, field, reason, raw)."""
    rows = await conn.execute(
        select(r.line, r.field, r.reason, r.raw)
        .where(r.job_id == job_id)
        .order_by(r.line)
        .limit(limit)
    )
    return [dict(row) for row in rows.mappings()]
