"""An import's body on its way in: its format, spooled to a file, then read in chunks (in a
thread of its own) while the previous chunk is written. Shared by the import routes, which
answer once it is stored, and the import jobs, which report progress after each chunk.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from fastapi import Request

from disparo.api.bot_schemas import Rejection
from disparo.api.deps import DB
from disparo.api.errors import ApiError
from disparo.db import imports
from disparo.ingest.import_reader import Chunk, RowReader

# Lines read (in the thread) and written in one go. The server holds two chunks' rows at most,
# one being written and one read ahead; the event loop's share of a chunk stays near 10 ms.
CHUNK_LINES = 2000
MAX_REJECTIONS_LISTED = 1000
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
CSV_TYPES = ("text/csv",)
FORMATS_HINT = (
    "send the rows as JSON lines (Content-Type: application/x-ndjson) "
    "or CSV (Content-Type: text/csv)"
)

OnChunk = Callable[[Chunk], Awaitable[None]]


def is_csv(request: Request) -> bool:
    """True for CSV, False for JSON lines; 415 for anything else (before the body is read)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in NDJSON_TYPES:
        return False
    if media_type in CSV_TYPES:
        return True
    raise ApiError(415, "bad_request", FORMATS_HINT)


def _not_utf8(offset: int) -> ApiError:
    return ApiError(400, "bad_request", f"the body is not UTF-8 (byte {offset} is invalid)")


async def spool(request: Request, into: IO[bytes]) -> int:
    """The body, streamed into the file `into` (left at its start) once it is all received and
    known to be UTF-8; its size in bytes.

    No transaction is open while a client uploads, however slowly.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    received = 0
    async for piece in request.stream():
        held = len(decoder.getstate()[0])  # the bytes of a character cut by the last piece
        try:
            decoder.decode(piece)
        except UnicodeDecodeError as exc:
            raise _not_utf8(received - held + exc.start) from None
        into.write(piece)
        received += len(piece)
    held = len(decoder.getstate()[0])
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _not_utf8(received - held + exc.start) from None
    into.seek(0)
    return received


@dataclass(slots=True)
class Tally:
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


async def write_all(
    db: DB,
    reader: RowReader,
    kind: imports.ImportKind,
    slug: str,
    now: datetime,
    replace_tags: bool,
    on_chunk: OnChunk | None = None,
) -> Tally:
    """Every chunk of `reader` into one import of the database (stored whole or not at all);
    the next chunk is read, and made ready for the database, in a thread while the current one
    is written, then `on_chunk` told of it. The file is closed once the thread is done with it."""
    tally = Tally()
    # One thread for this import: its calls run in order, the file's closing last.
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="disparo-import")
    target: imports.Importer | None = None

    def read_and_prepare() -> tuple[Chunk, Any] | None:
        chunk = reader.next_chunk()
        if chunk is None:
            return None
        # The target exists from the second chunk on; the first is made ready on its own.
        return chunk, (target.prepare(chunk.rows) if target is not None else None)

    def read_ahead() -> asyncio.Future[tuple[Chunk, Any] | None]:
        return asyncio.wrap_future(thread.submit(read_and_prepare))

    ahead = read_ahead()
    try:
        read = await ahead  # a CSV header that does not fit is refused before any write
        if read is None:
            return tally
        async with imports.importing(db, kind, slug, now=now, replace_tags=replace_tags) as target:
            chunk, prepared = read
            prepared = await asyncio.wrap_future(thread.submit(target.prepare, chunk.rows))
            while True:
                ahead = read_ahead()
                tally.add(chunk)
                await target.add_prepared(prepared)
                if on_chunk is not None:
                    await on_chunk(chunk)
                read = await ahead
                if read is None:
                    break
                chunk, prepared = read
            tally.new = await target.finish()
        return tally
    finally:
        _forget(ahead)
        thread.submit(reader.close)
        thread.shutdown(wait=False)
