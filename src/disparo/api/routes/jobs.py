"""Recall or edit a sent shot: `POST /shots/{id}/recall`, `POST /shots/{id}/edit`, and the job
each makes (its progress, per-recipient outcomes, pause, resume, cancel). The worker does the
job at the bot's pace (docs/api.md, Recall and edit)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from disparo.api.button_schemas import ButtonRows, plain_buttons
from disparo.api.content import Content
from disparo.api.deps import DB, MAX_ID, Now, ShotId
from disparo.api.errors import (
    BODY_ERRORS,
    ERROR_RESPONSES,
    conflict,
    described,
    invalid,
    not_found,
)
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.personalize import check_templated_content
from disparo.db import job_items as item_queries
from disparo.db import jobs as queries
from disparo.db import shots as shot_queries
from disparo.db.engine import Connection
from disparo.db.experiment import variants_of
from disparo.db.jobs import JobRecord
from disparo.domain.jobs import JobKind, JobStatus
from disparo.domain.statuses import FINAL_SHOT_STATUSES, MediaType

router = APIRouter(
    prefix=ADMIN_PREFIX, tags=["recall and edit"], responses=ERROR_RESPONSES, dependencies=ADMIN
)
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="the job's id")]
_NOT_FOUND = described(404, "no such shot or job")
_CONFLICT = described(409, "the shot or job does not allow it now")
ITEMS_PAGE = 500


class EditIn(BaseModel):
    """What changes in every delivered message: the copy, the buttons, or both."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    copy_text: str | None = Field(
        default=None, alias="copy", description="the new copy (Telegram HTML, variables allowed)"
    )
    buttons: ButtonRows | None = Field(
        default=None, description="the new URL buttons, rows of {text, url}; [] removes them"
    )
    accept_too_long: bool = Field(
        default=False,
        description="send even if some contact's values could push the copy past Telegram's "
        "limit (that message is then left as it was, outcome error)",
    )


class JobOut(BaseModel):
    """A recall or edit job with its progress."""

    id: int = Field(description="the job's id")
    shot_id: int = Field(description="the shot whose messages it changes")
    kind: str = Field(description="recall or edit")
    status: str = Field(description="pending, running, paused, done, cancelled or error")
    copy_text: str | None = Field(alias="copy", description="an edit's new copy")
    buttons: Any = Field(description="an edit's new buttons (when it changes them)")
    total: int | None = Field(description="messages in its snapshot (null until it starts)")
    by_status: dict[str, int] = Field(description="pending, sending, done, skipped, error, unknown")
    by_outcome: dict[str, int] = Field(
        description="deleted, edited, unchanged, gone, too_old, deactivated, cancelled, error, "
        "unknown"
    )
    progress: float = Field(description="finished messages / total, 0..1")
    last_error: str | None = Field(description="why it stopped with status error")
    started_at: datetime | None = Field(description="when a worker first took it")
    finished_at: datetime | None = Field(description="when it ended")
    created_at: datetime = Field(description="when it was asked for")

    model_config = ConfigDict(serialize_by_alias=True)


async def _job_out(conn: Connection, job: JobRecord) -> JobOut:
    counts = await item_queries.item_counts(conn, job.id)
    by_status = counts["by_status"]
    left = by_status.get("pending", 0) + by_status.get("sending", 0)
    total = job.total or 0
    return JobOut(
        id=job.id,
        shot_id=job.shot_id,
        kind=job.kind,
        status=job.status,
        copy=job.copy,
        buttons=job.buttons if job.change_buttons else None,
        total=job.total,
        by_status=by_status,
        by_outcome=counts["by_outcome"],
        progress=(total - left) / total if total else (1.0 if job.finished_at else 0.0),
        last_error=job.last_error,
        started_at=job.started_at,
        finished_at=job.finished_at,
        created_at=job.created_at,
    )


async def _startable(conn: Connection, shot_id: int, kind: JobKind) -> Any:
    shot = await shot_queries.get_shot(conn, shot_id)
    if shot is None:
        raise not_found(f"shot {shot_id}")
    if shot.status not in {status.value for status in FINAL_SHOT_STATUSES}:
        raise conflict(
            f"the shot is {shot.status}: cancel it first (POST /admin/api/shots/{shot_id}/cancel)"
            f" so nobody else receives it, then {kind.value} it",
            field="status",
        )
    if await queries.delivered_count(conn, shot_id) == 0:
        raise conflict(f"the shot delivered no message: there is nothing to {kind.value}")
    active = await queries.active_job(conn, shot_id)
    if active is not None:
        raise conflict(
            f"job {active.id} ({active.kind}) of this shot is {active.status}: wait for it to end"
            f" or cancel it (POST /admin/api/jobs/{active.id}/cancel)"
        )
    return shot


@router.post(
    "/shots/{shot_id}/recall",
    status_code=201,
    summary="Delete every delivered message of a shot",
    responses=_NOT_FOUND | _CONFLICT,
)
async def recall_shot(shot_id: ShotId, db: DB, now: Now) -> JobOut:
    """A job that deletes each delivered message (both of an audio shot) while Telegram allows
    it (48 h); older ones are recorded too_old without a call."""
    async with db.write(wake=True) as conn:
        shot = await _startable(conn, shot_id, JobKind.RECALL)
        job = await queries.insert_job(
            conn, now=now, shot_id=shot_id, bot_slug=shot.bot_slug, kind=JobKind.RECALL.value
        )
        return await _job_out(conn, job)


@router.post(
    "/shots/{shot_id}/edit",
    status_code=201,
    summary="Change the copy and/or buttons of every delivered message of a shot",
    responses=_NOT_FOUND | _CONFLICT | BODY_ERRORS,
)
async def edit_shot_messages(
    shot_id: ShotId, body: EditIn, db: DB, now: Now, request: Request
) -> JobOut:
    """Checked as a new shot's content is (HTML, caption length, variables, buttons) before
    anything is sent; media are never replaced. The shot's content becomes the edit's."""
    redirects = request.app.state.redirects
    given = body.model_fields_set
    if not given & {"copy_text", "buttons"}:
        raise invalid("copy", "give the new copy, the new buttons ([] removes them), or both")
    if "copy_text" in given and body.copy_text is None:
        raise invalid("copy", "the copy cannot be removed; give the new copy")
    new_buttons = plain_buttons(body.buttons) if "buttons" in given else None
    async with db.write(wake=True) as conn:
        shot = await _startable(conn, shot_id, JobKind.EDIT)
        variants = (await variants_of(conn, [shot_id])).get(shot_id, ())
        copies = [body.copy_text] if body.copy_text is not None else [shot.copy]
        if body.copy_text is None:
            copies += [variant.copy for variant in variants]
        change_buttons = "buttons" in given
        for copy in copies:
            buttons = new_buttons if change_buttons else shot.buttons
            content = Content(copy, MediaType(shot.media_type), shot.media_url, buttons)
            check_templated_content(content, accept_too_long=body.accept_too_long)
        await queries.store_edit(
            conn,
            shot_id,
            copy=body.copy_text,
            buttons=new_buttons,
            change_buttons=change_buttons,
        )
        if redirects is not None:
            redirects.forget(shot_id)
        job = await queries.insert_job(
            conn,
            now=now,
            shot_id=shot_id,
            bot_slug=shot.bot_slug,
            kind=JobKind.EDIT.value,
            copy=body.copy_text,
            buttons=new_buttons,
            change_buttons=change_buttons,
        )
        return await _job_out(conn, job)


@router.get("/shots/{shot_id}/jobs", summary="A shot's recall and edit jobs")
async def list_shot_jobs(shot_id: ShotId, db: DB) -> list[JobOut]:
    """Newest first."""
    async with db.read() as conn:
        return [await _job_out(conn, job) for job in await queries.shot_jobs_of(conn, shot_id)]


async def _job_or_404(conn: Connection, job_id: int) -> JobRecord:
    job = await queries.get_job(conn, job_id)
    if job is None:
        raise not_found(f"job {job_id}")
    return job


@router.get("/jobs/{job_id}", summary="One recall or edit job", responses=_NOT_FOUND)
async def get_job(job_id: JobId, db: DB) -> JobOut:
    """With its counts by status and by outcome."""
    async with db.read() as conn:
        return await _job_out(conn, await _job_or_404(conn, job_id))


_MOVES = {
    "pause": (JobStatus.PAUSED, (JobStatus.PENDING, JobStatus.RUNNING)),
    "resume": (JobStatus.PENDING, (JobStatus.PAUSED,)),
    "cancel": (JobStatus.CANCELLED, (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED)),
}


@router.post(
    "/jobs/{job_id}/{action}",
    summary="Pause, resume or cancel a job",
    responses=_NOT_FOUND | _CONFLICT,
)
async def move_job(
    job_id: JobId,
    action: Annotated[
        str, Path(pattern="^(pause|resume|cancel)$", description="pause, resume or cancel")
    ],
    db: DB,
    now: Now,
) -> JobOut:
    """A running job stops after its requests in flight; a cancelled one records what is left
    as skipped (cancelled)."""
    target, allowed = _MOVES[action]
    async with db.write(wake=True) as conn:
        job = await _job_or_404(conn, job_id)
        if not await queries.set_job_status(conn, job_id, target, allowed, now):
            names = ", ".join(status.value for status in allowed)
            raise conflict(f"the job is {job.status}; {action} needs it {names}", field="status")
        moved = await _job_or_404(conn, job_id)
        if target is JobStatus.CANCELLED and job.status != JobStatus.RUNNING.value:
            await item_queries.cancel_idle_job(conn, job_id, now)
            moved = await _job_or_404(conn, job_id)
        return await _job_out(conn, moved)


@router.get("/jobs/{job_id}/items", summary="What happened to each message", responses=_NOT_FOUND)
async def job_items(
    job_id: JobId,
    db: DB,
    outcome: Annotated[str | None, Query(max_length=20, description="only this outcome")] = None,
    after: Annotated[int, Query(ge=-1, le=2**31 - 1, description="the last seq seen")] = -1,
    limit: Annotated[int, Query(ge=1, le=ITEMS_PAGE, description="at most this many")] = 100,
) -> dict[str, Any]:
    """In send order: telegram_id, message_id, variant, status, outcome, error (Telegram's text)."""
    async with db.read() as conn:
        await _job_or_404(conn, job_id)
        rows = await item_queries.list_items(
            conn, job_id, after_seq=after, limit=limit, outcome=outcome
        )
    items = [dict(row) for row in rows]
    next_after = items[-1]["seq"] if len(items) == limit else None
    return {"items": items, "next_after": next_after}


@router.get(
    "/jobs/{job_id}/items.csv",
    summary="What happened to each message, as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **_NOT_FOUND},
)
async def job_items_csv(job_id: JobId, db: DB) -> Response:
    """Every message of the job."""
    columns = ("seq", "telegram_id", "message_id", "variant", "status", "outcome", "error",
               "updated_at")  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    async with db.read() as conn:
        await _job_or_404(conn, job_id)
        after = -1
        while rows := await item_queries.list_items(
            conn, job_id, after_seq=after, limit=5000, outcome=None
        ):
            for row in rows:
                when = row["updated_at"]
                values = {**row, "updated_at": when.astimezone(UTC).isoformat() if when else ""}
                writer.writerow(["" if values[c] is None else values[c] for c in columns])
            after = rows[-1]["seq"]
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="job-{job_id}-items.csv"'},
    )
