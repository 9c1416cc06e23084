"""Bulk import for integrations: contacts, funnel events and payment transactions of a bot.

JSON lines (application/x-ndjson) or CSV (text/csv) whose fields are the table's column names;
contacts also take tags and custom attributes (`tags_mode` says how tags apply).
The body is streamed to a temporary file, then read in chunks of lines in a thread of its own
while the previous chunk is written; a request is stored whole or not at all (see
`disparo.db.imports.importing`). Bad rows are reported by line, never written.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request

from disparo.api.bot_schemas import ImportResult
from disparo.api.deps import DB, BotSlug, Now
from disparo.api.errors import ERROR_RESPONSES, ApiError, described, invalid, not_found
from disparo.api.import_body import CHUNK_LINES, is_csv, spool, write_all
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.middleware.limits import MAX_IMPORT_BYTES
from disparo.db import imports
from disparo.db.bots import bot_exists
from disparo.domain.tags import TagsMode
from disparo.ingest.import_reader import RowReader, UnreadableBodyError
from disparo.ingest.import_rows import (
    CONTACTS,
    EVENTS,
    TRANSACTIONS,
    RowError,
    Spec,
    combine_contacts,
    keep_given,
)

__all__ = ["CHUNK_LINES", "router"]

log = logging.getLogger("disparo.api.imports")

router = APIRouter(
    prefix=ADMIN_PREFIX + "/bots/{slug}",
    tags=["imports"],
    responses=ERROR_RESPONSES,
    dependencies=ADMIN,
)

SPOOL_MEMORY_BYTES = 1024 * 1024  # a body above this waits in a temporary file on disk


async def _spool(request: Request) -> IO[bytes]:
    """The body in a temporary file (in memory up to SPOOL_MEMORY_BYTES) at its start."""
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - returned
    try:
        await spool(request, body)
    except BaseException:
        body.close()
        raise
    return body


async def _import(
    request: Request,
    db: DB,
    slug: str,
    spec: Spec,
    kind: imports.ImportKind,
    now: datetime,
    tags_mode: TagsMode | None = None,
) -> ImportResult:
    async with db.read() as conn:
        if not await bot_exists(conn, slug):
            raise not_found(f"bot '{slug}'")
    csv = is_csv(request)
    body = await _spool(request)
    replace_tags = tags_mode == "replace"
    combine = combine_contacts(replace_tags=replace_tags) if tags_mode else keep_given
    reader = RowReader(body, spec, is_csv=csv, chunk_lines=CHUNK_LINES, combine=combine)
    try:
        tally = await write_all(db, reader, kind, slug, now, replace_tags)
    except RowError as exc:  # the CSV header itself is wrong
        raise invalid(exc.field or "body", exc.reason) from None
    except UnreadableBodyError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    inserted = tally.new
    updated = tally.valid - inserted
    log.info(
        "import done",
        extra={
            "bot_slug": slug,
            "table": spec.table,
            "inserted": inserted,
            "updated": updated,
            "rejected": tally.rejected,
        },
    )
    return ImportResult(
        inserted=inserted,
        updated=updated,
        rejected=tally.rejected,
        rejections=tally.rejections,
        tags_mode=tags_mode,
    )


def _doc(columns: Spec, example_csv: str, example_ndjson: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": f"columns: {', '.join([*columns.columns, *columns.extra])} "
            f"(required: {', '.join(columns.required)})",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}, "example": example_ndjson},
                "text/csv": {"schema": {"type": "string"}, "example": example_csv},
            },
        }
    }


_RESPONSES = (
    described(
        400,
        "the body is not UTF-8, or the CSV cannot be read (a broken quote, a line above 256 KiB)",
    )
    | described(404, "no such bot")
    | described(413, f"body above {MAX_IMPORT_BYTES // 2**20} MiB")
    | described(415, "neither JSON lines nor CSV")
)


@router.post(
    "/contacts:import",
    summary="Import contacts",
    responses=_RESPONSES,
    openapi_extra=_doc(
        CONTACTS,
        "telegram_id,first_name,chat_state,started_at,tags,attr.plano\n"
        "42,Ana,active,2026-11-30T12:00:00Z,vip|curso-a,anual\n",
        '{"telegram_id": 42, "first_name": "Ana", "started_at": "2026-11-30T12:00:00Z", '
        '"tags": ["vip", "curso-a"], "attributes": {"plano": "anual"}}\n',
    ),
)
async def import_contacts(
    slug: BotSlug,
    request: Request,
    db: DB,
    now: Now,
    tags_mode: Annotated[
        TagsMode,
        Query(
            description="add: a row's tags go beside the contact's own; replace: they become "
            "its whole set (an empty value clears it). A row without tags leaves them as they are."
        ),
    ] = "add",
) -> ImportResult:
    """Upsert contacts by telegram_id; a contact becoming blocked/deactivated gets blocked_at;
    tags are added (or replace the contact's), attributes merged (null removes a key)."""
    return await _import(request, db, slug, CONTACTS, imports.CONTACT_ROWS, now, tags_mode)


@router.post(
    "/events:import",
    summary="Import funnel events",
    responses=_RESPONSES,
    openapi_extra=_doc(
        EVENTS,
        "telegram_id,event,occurred_at\n42,pix_created,2026-11-30T12:00:00Z\n",
        '{"telegram_id": 42, "event": "pix_created", "occurred_at": "2026-11-30T12:00:00Z"}\n',
    ),
)
async def import_events(slug: BotSlug, request: Request, db: DB, now: Now) -> ImportResult:
    """Upsert funnel events by (telegram_id, event, occurred_at); pix_created feeds the audience."""
    return await _import(request, db, slug, EVENTS, imports.EVENT_ROWS, now)


@router.post(
    "/transactions:import",
    summary="Import payment transactions",
    responses=_RESPONSES,
    openapi_extra=_doc(
        TRANSACTIONS,
        "telegram_id,external_id,status,amount_cents\n42,pix-981,created,4990\n",
        '{"telegram_id": 42, "external_id": "pix-981", "status": "paid", "amount_cents": 4990}\n',
    ),
)
async def import_transactions(slug: BotSlug, request: Request, db: DB, now: Now) -> ImportResult:
    """Upsert PIX transactions by external_id; created or paid ones feed the audience."""
    return await _import(request, db, slug, TRANSACTIONS, imports.TRANSACTION_ROWS, now)
