"""Import jobs: a file of contacts, funnel events or payment transactions received at once
(202 with the job's id) and imported in the background, its progress readable by any API
process; its rejected lines as CSV; and a preview of a file's first rows before it is sent.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from disparo.api.deps import DB, MAX_ID, BotSlug, Now
from disparo.api.errors import ERROR_RESPONSES, ApiError, described, not_found
from disparo.api.import_body import CSV_TYPES, NDJSON_TYPES, is_csv, spool
from disparo.api.import_job_schemas import (
    ImportJob,
    ImportJobs,
    ImportKindName,
    ImportPreview,
    job_view,
)
from disparo.api.import_jobs import FILE_PREFIX, MAX_REJECTIONS_KEPT, SILENT_AFTER, JobFile
from disparo.api.import_jobs import ImportJobs as Runner
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.middleware.limits import MAX_IMPORT_BYTES
from disparo.db import import_jobs as store
from disparo.db import imports
from disparo.db.bots import bot_exists
from disparo.domain.tags import TagsMode
from disparo.ingest.import_preview import detect_csv, preview
from disparo.ingest.import_rows import CONTACTS, EVENTS, TRANSACTIONS, Spec

router = APIRouter(
    prefix=ADMIN_PREFIX + "/bots/{slug}",
    tags=["imports"],
    responses=ERROR_RESPONSES,
    dependencies=ADMIN,
)

KINDS: dict[str, tuple[Spec, imports.ImportKind]] = {
    "contacts": (CONTACTS, imports.CONTACT_ROWS),
    "events": (EVENTS, imports.EVENT_ROWS),
    "transactions": (TRANSACTIONS, imports.TRANSACTION_ROWS),
}
MAX_PREVIEW_BYTES = 64 * 1024
JOBS_LISTED = 100

Kind = Annotated[
    ImportKindName,
    Query(description="contacts, events (funnel events) or transactions (payments)"),
]
ImportJobId = Annotated[int, Path(ge=1, le=MAX_ID, description="the import job's id")]


def _runner(request: Request) -> Runner:
    runner: Runner = request.app.state.import_jobs
    return runner


async def _receive(request: Request) -> tuple[str, int]:
    """The body, streamed to a temporary file on disk: its path (removed if the body fails)
    and size."""
    file = tempfile.NamedTemporaryFile(prefix=FILE_PREFIX, delete=False)  # noqa: SIM115
    try:
        with file:
            size = await spool(request, file)
    except BaseException:
        os.unlink(file.name)
        raise
    return file.name, size


def _abandoned(row: dict[str, Any], now: datetime) -> bool:
    """A queued or running job whose process has been silent too long (it stopped)."""
    beat = row["heartbeat_at"]
    return row["status"] in store.ACTIVE and (beat is None or beat < now - SILENT_AFTER)


async def _check_bot(db: DB, slug: str) -> None:
    async with db.read() as conn:
        if not await bot_exists(conn, slug):
            raise not_found(f"bot '{slug}'")


async def _job(db: DB, slug: str, job_id: int) -> dict[str, Any]:
    async with db.read() as conn:
        row = await store.get_import_job(conn, slug, job_id)
    if row is None:
        raise not_found(f"import job {job_id} of bot '{slug}'")
    return row


_BODY = {
    "requestBody": {
        "required": True,
        "description": "the file: JSON lines (application/x-ndjson) or CSV (text/csv), "
        "with the columns of the import routes",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/imports",
    summary="Start an import job",
    status_code=202,
    responses=described(400, "the body is not UTF-8")
    | described(404, "no such bot")
    | described(413, f"body above {MAX_IMPORT_BYTES // 2**20} MiB")
    | described(415, "neither JSON lines nor CSV"),
    openapi_extra=_BODY,
)
async def start_import(
    slug: BotSlug,
    request: Request,
    db: DB,
    kind: Kind,
    tags_mode: Annotated[
        TagsMode,
        Query(description="contacts: add a row's tags to the contact's, or replace them"),
    ] = "add",
) -> ImportJob:
    """Receive the file (to a temporary file on disk) and answer at once with the queued job;
    it is imported in the background, stored whole or not at all."""
    await _check_bot(db, slug)
    csv_body = is_csv(request)
    spec, import_kind = KINDS[kind]
    path, size = await _receive(request)
    mode = tags_mode if kind == "contacts" else None
    runner = _runner(request)
    received = runner.clock()  # an upload may be slow: the job's time starts once it is in
    try:
        async with db.write() as conn:
            job_id = await store.create_import_job(
                conn,
                bot_slug=slug,
                kind=kind,
                tags_mode=mode,
                file_format="csv" if csv_body else "ndjson",
                total_bytes=size,
                now=received,
            )
            row = await store.get_import_job(conn, slug, job_id)
        if row is None:
            raise not_found(f"bot '{slug}'")  # removed while its file was received
    except BaseException:
        os.unlink(path)
        raise
    runner.start(JobFile(job_id, slug, path, spec, import_kind, csv_body, mode))
    return job_view(row, received)


@router.get("/imports", summary="List import jobs", responses=described(404, "no such bot"))
async def list_imports(
    slug: BotSlug,
    request: Request,
    db: DB,
    now: Now,
    limit: Annotated[int, Query(ge=1, le=JOBS_LISTED, description="at most this many")] = 20,
) -> ImportJobs:
    """The bot's latest import jobs, newest first (one whose process stopped answering is
    failed with the reason)."""
    await _check_bot(db, slug)
    async with db.read() as conn:
        rows = await store.list_import_jobs(conn, slug, limit)
    if any(_abandoned(row, now) for row in rows):
        await _runner(request).fail_abandoned()
        async with db.read() as conn:
            rows = await store.list_import_jobs(conn, slug, limit)
    return ImportJobs(jobs=[job_view(row, now) for row in rows])


@router.get(
    "/imports/{job_id}",
    summary="An import job's progress",
    responses=described(404, "no such bot or job"),
)
async def get_import(
    slug: BotSlug, job_id: ImportJobId, request: Request, db: DB, now: Now
) -> ImportJob:
    """Status, lines processed, valid and rejected so far, rate and time left; inserted and
    updated once done. A job whose process stopped answering is failed with the reason."""
    row = await _job(db, slug, job_id)
    if _abandoned(row, now):
        await _runner(request).fail_abandoned()  # a write only when it is due
        row = await _job(db, slug, job_id)
    return job_view(row, now)


@router.get(
    "/imports/{job_id}/rejections.csv",
    summary="An import job's rejected lines as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **described(404, "no such bot or job")},
)
async def import_rejections_csv(slug: BotSlug, job_id: ImportJobId, db: DB) -> Response:
    """line, field, reason and the first 200 characters of each rejected line (the first
    10,000 of them)."""
    await _job(db, slug, job_id)
    async with db.read() as conn:
        rows = await store.list_import_rejections(conn, job_id, MAX_REJECTIONS_KEPT)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["line", "field", "reason", "raw"])
    writer.writerows([r["line"], r["field"] or "", r["reason"], r["raw"] or ""] for r in rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{job_id}-rejections.csv"'},
    )


@router.post(
    "/imports:preview",
    summary="Preview an import file",
    responses=described(404, "no such bot")
    | described(413, f"body above {MAX_PREVIEW_BYTES // 1024} KiB"),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": f"the file's first bytes (up to {MAX_PREVIEW_BYTES // 1024} KiB)",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/octet-stream": {"schema": {"type": "string"}},
            },
        }
    },
)
async def preview_import(
    slug: BotSlug,
    request: Request,
    db: DB,
    kind: Kind,
    complete: Annotated[
        bool, Query(description="true if the body is the whole file (its last line is whole)")
    ] = False,
) -> ImportPreview:
    """The file's format (from Content-Type, or detected), its columns, and what each of its
    first rows becomes or why it is rejected. Nothing is stored."""
    await _check_bot(db, slug)
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > MAX_PREVIEW_BYTES:
            raise ApiError(
                413, "payload_too_large", f"send at most the first {MAX_PREVIEW_BYTES // 1024} KiB"
            )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in CSV_TYPES or media_type in NDJSON_TYPES:
        csv_body = media_type in CSV_TYPES
    else:
        csv_body = detect_csv(bytes(data))
    spec = KINDS[kind][0]
    return ImportPreview(**preview(bytes(data), spec, is_csv=csv_body, complete=complete))
