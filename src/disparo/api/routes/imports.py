"""Bulk import for integrations: contacts, funnel events and payment transactions of a bot.

JSON lines (application/x-ndjson) or CSV (text/csv) whose fields are the table's column names;
contacts also take tags and custom attributes (`tags_mode` says how tags apply).
The body is streamed to a temporary file, then read in chunks of lines in a thread of its own
while the previous chunk is written; a request is stored whole or not at all (see
`disparo.db.imports.importing`). Bad rows are reported by line, never written.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request

from disparo.api.bot_schemas import ImportResult, Rejection
from disparo.api.deps import DB, BotSlug, Now
from disparo.api.errors import ERROR_RESPONSES, ApiError, described, invalid, not_found
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.middleware.limits import MAX_IMPORT_BYTES
from disparo.db import imports
from disparo.db.bots import bot_exists
from disparo.domain.tags import TagsMode
from disparo.ingest.import_reader import Chunk, RowReader, UnreadableBodyError
from disparo.ingest.import_rows import (
    CONTACTS,
    EVENTS,
    TRANSACTIONS,
    RowError,
    Spec,
    combine_contacts,
    keep_given,
)

log = logging.getLogger("disparo.api.imports")

router = APIRouter(
    prefix=ADMIN_PREFIX + "/bots/{slug}",
    tags=["imports"],
    responses=ERROR_RESPONSES,
    dependencies=ADMIN,
)

# Lines read (in the thread) and written in one go. The server holds two chunks' rows at most,
# one being written and one read ahead; the event loop's share of a chunk stays near 10 ms.
CHUNK_LINES = 2000
SPOOL_MEMORY_BYTES = 1024 * 1024  # a body above this waits in a temporary file on disk
MAX_REJECTIONS_LISTED = 1000
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
CSV_TYPES = ("text/csv",)


def _is_csv(request: Request) -> bool:
    """True for CSV, False for JSON lines; 415 for anything else (before the body is read)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in NDJSON_TYPES:
        return False
    if media_type in CSV_TYPES:
        return True
    raise ApiError(
        415,
        "bad_request",
        "send the rows as JSON lines (Content-Type: application/x-ndjson) "
        "or CSV (Content-Type: text/csv)",
    )


def _not_utf8(offset: int) -> ApiError:
    return ApiError(400, "bad_request", f"the body is not UTF-8 (byte {offset} is invalid)")


async def _spool(request: Request) -> IO[bytes]:
    """The body, streamed into a temporary file (in memory up to SPOOL_MEMORY_BYTES) at its
    start, once it is all received and known to be UTF-8.

    No transaction is open while a client uploads, however slowly.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - returned
    decoder = codecs.getincrementaldecoder("utf-8")()
    received = 0
    try:
        async for piece in request.stream():
            held = len(decoder.getstate()[0])  # the bytes of a character cut by the last piece
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                raise _not_utf8(received - held + exc.start) from None
            spool.write(piece)
            received += len(piece)
        held = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise _not_utf8(received - held + exc.start) from None
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


@dataclass(slots=True)
class _Tally:
    """What the chunks of one import added up to."""

    valid: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    new: int = 0  # valid rows whose key was not stored before

    def add(self, chunk: Chunk) -> None:
        self.valid += chunk.valid
        self.rejected += len(chunk.rejections)
        room = MAX_REJECTIONS_LISTED - len(self.rejections)
        self.rejections += [
            Rejection(line=line, field=exc.field, reason=exc.reason)
            for line, exc in chunk.rejections[: max(room, 0)]
        ]


def _forget(future: asyncio.Future[Any]) -> None:
    """Drop a read ahead that will not be used (its exception, if any, is not logged)."""
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()


async def _write_all(
    db: DB,
    reader: RowReader,
    kind: imports.ImportKind,
    slug: str,
    now: datetime,
    replace_tags: bool,
) -> _Tally:
    """Every chunk of `reader` into one import of the database (stored whole or not at all);
    the next chunk is read in a thread while the current one is written. The file is closed
    once the thread is done with it."""
    tally = _Tally()
    # One thread for this import: its calls run in order, the file's closing last.
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="disparo-import")

    def read_ahead() -> asyncio.Future[Chunk | None]:
        return asyncio.wrap_future(thread.submit(reader.next_chunk))

    ahead = read_ahead()
    try:
        chunk = await ahead  # a CSV header that does not fit is refused before any write
        if chunk is None:
            return tally
        async with imports.importing(db, kind, slug, now=now, replace_tags=replace_tags) as target:
            while chunk is not None:
                ahead = read_ahead()
                tally.add(chunk)
                await target.add(chunk.rows)
                chunk = await ahead
            tally.new = await target.finish()
        return tally
    finally:
        _forget(ahead)
        thread.submit(reader.close)
        thread.shutdown(wait=False)


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
    is_csv = _is_csv(request)
    body = await _spool(request)
    replace_tags = tags_mode == "replace"
    combine = combine_contacts(replace_tags=replace_tags) if tags_mode else keep_given
    reader = RowReader(body, spec, is_csv=is_csv, chunk_lines=CHUNK_LINES, combine=combine)
    try:
        tally = await _write_all(db, reader, kind, slug, now, replace_tags)
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
