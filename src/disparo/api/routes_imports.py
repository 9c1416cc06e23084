"""Bulk import for integrations: contacts, funnel events and payment transactions of a bot.

JSON lines (application/x-ndjson) or CSV (text/csv) whose fields are the table's column names.
Rows are upserted in chunks, each in its own short transaction; bad rows are reported by line.
"""

from __future__ import annotations

import csv
import gc
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from disparo.api.auth import ADMIN, ADMIN_PREFIX
from disparo.api.bot_schemas import ImportResult, Rejection
from disparo.api.deps import DB, BotSlug, Now
from disparo.api.errors import ERROR_RESPONSES, ApiError, described, invalid, not_found
from disparo.api.import_rows import (
    CONTACTS,
    EVENTS,
    TRANSACTIONS,
    RowError,
    Spec,
    check_row,
    csv_rows,
    ndjson_rows,
)
from disparo.api.limits import MAX_IMPORT_BYTES
from disparo.db import imports
from disparo.db.bots import bot_exists
from disparo.db.engine import Connection

log = logging.getLogger("disparo.api.imports")

router = APIRouter(
    prefix=ADMIN_PREFIX + "/bots/{slug}",
    tags=["imports"],
    responses=ERROR_RESPONSES,
    dependencies=ADMIN,
)

CHUNK_ROWS = 5000
MAX_REJECTIONS_LISTED = 1000
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
CSV_TYPES = ("text/csv",)

Upsert = Callable[[Connection, str, Sequence[dict[str, Any]], datetime], Awaitable[int]]


async def _contacts(
    conn: Connection, slug: str, rows: Sequence[dict[str, Any]], now: datetime
) -> int:
    return await imports.upsert_contacts(conn, slug, rows, now=now)


async def _events(
    conn: Connection, slug: str, rows: Sequence[dict[str, Any]], now: datetime
) -> int:
    return await imports.upsert_events(conn, slug, rows)


async def _transactions(
    conn: Connection, slug: str, rows: Sequence[dict[str, Any]], now: datetime
) -> int:
    return await imports.upsert_transactions(conn, slug, rows, now=now)


def _parse(
    body: bytes, content_type: str, spec: Spec
) -> tuple[list[dict[str, Any]], int, list[Rejection], int]:
    """(unique rows, valid row count, listed rejections, rejected count)."""
    media_type = content_type.split(";")[0].strip().lower()
    try:
        data = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "bad_request", f"the body is not UTF-8 (byte {exc.start} is invalid)"
        ) from None
    if media_type in NDJSON_TYPES:
        source = ndjson_rows(data)
    elif media_type in CSV_TYPES:
        source = csv_rows(data, spec)
    else:
        raise ApiError(
            415,
            "bad_request",
            "send the rows as JSON lines (Content-Type: application/x-ndjson) "
            "or CSV (Content-Type: text/csv)",
        )
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    valid = rejected = 0
    rejections: list[Rejection] = []
    try:
        for line, raw in source:
            try:
                if isinstance(raw, RowError):
                    raise raw
                row = check_row(spec, raw)
            except RowError as exc:
                rejected += 1
                if len(rejections) < MAX_REJECTIONS_LISTED:
                    rejections.append(Rejection(line=line, field=exc.field, reason=exc.reason))
                continue
            valid += 1
            key = tuple(row[name] for name in spec.key)
            earlier = by_key.get(key)
            if earlier is None:
                by_key[key] = row
            else:  # the same key twice: later values win, None keeps the earlier one
                earlier.update({k: v for k, v in row.items() if v is not None})
    except RowError as exc:  # the CSV header itself is wrong
        raise invalid(exc.field or "body", exc.reason) from None
    except csv.Error as exc:
        raise ApiError(400, "bad_request", f"the CSV cannot be read: {exc}") from None
    return list(by_key.values()), valid, rejections, rejected


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cycle collector while an import holds ~10⁵ fresh rows.

    Each collection would walk them all again; measured on 100,000 contacts in the server,
    pausing it takes the import from 7.3 s to 4.0 s. Reference counting still frees memory.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def _import(
    request: Request, db: DB, slug: str, spec: Spec, upsert: Upsert, now: datetime
) -> ImportResult:
    async with db.read() as conn:
        if not await bot_exists(conn, slug):
            raise not_found(f"bot '{slug}'")
    body = await request.body()
    with _cyclic_gc_paused():
        content_type = request.headers.get("content-type", "")
        rows, valid, rejections, rejected = _parse(body, content_type, spec)
        existed = 0
        for start in range(0, len(rows), CHUNK_ROWS):
            async with db.write() as conn:
                existed += await upsert(conn, slug, rows[start : start + CHUNK_ROWS], now)
    inserted = len(rows) - existed
    log.info(
        "import done",
        extra={
            "bot_slug": slug,
            "table": spec.table,
            "inserted": inserted,
            "updated": valid - inserted,
            "rejected": rejected,
        },
    )
    return ImportResult(
        inserted=inserted, updated=valid - inserted, rejected=rejected, rejections=rejections
    )


def _doc(columns: Spec, example_csv: str, example_ndjson: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": f"columns: {', '.join(columns.columns)} "
            f"(required: {', '.join(columns.required)})",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}, "example": example_ndjson},
                "text/csv": {"schema": {"type": "string"}, "example": example_csv},
            },
        }
    }


_RESPONSES = (
    described(400, "the body is not UTF-8, or the CSV cannot be read")
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
        "telegram_id,first_name,chat_state,started_at\n42,Ana,active,2026-11-30T12:00:00Z\n",
        '{"telegram_id": 42, "first_name": "Ana", "started_at": "2026-11-30T12:00:00Z"}\n',
    ),
)
async def import_contacts(slug: BotSlug, request: Request, db: DB, now: Now) -> ImportResult:
    """Upsert contacts by telegram_id; a contact becoming blocked/deactivated gets blocked_at."""
    return await _import(request, db, slug, CONTACTS, _contacts, now)


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
    return await _import(request, db, slug, EVENTS, _events, now)


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
    return await _import(request, db, slug, TRANSACTIONS, _transactions, now)
