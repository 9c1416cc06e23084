"""The rest of a shot's audience, written in chunks while the shot sends.

`deliveries.snapshot_audience(first=N)` writes the first N recipients in send order and commits,
so the first message leaves without waiting for a million rows. `continue_snapshot` then reads
the audience in send order through one streaming query (one read snapshot of the contacts,
sorted once) and writes it in chunks, each its own short transaction fenced by the lease, so
reservations interleave with it (SQLite's one write lock is held a chunk at a time).

Whoever already has a row of the shot is left out: its written ids are read first (the head,
or an early interruption's, up to REMEMBERED_IDS) and dropped from the stream, the chunks being
plain inserts; beyond that many, each insert passes over them itself (a skipped member keeps
its `seq` number: `seq` orders, it does not count). So a snapshot resumed after a crash, a
pause or a lost lease continues where the committed chunks end: nobody twice, nobody the
audience holds at that moment left out, `seq` going on from the highest written.
`audience_total` counts the rows written; `audience_complete` turns true with the last chunk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.audience import audience_condition, contacts, send_order, shot_narrowing
from disparo.db.deliveries import PENDING, ReservationState
from disparo.db.engine import Database
from disparo.db.experiment import shot_split, variant_of
from disparo.db.tables import shots_queue, shots_sent
from disparo.domain.experiment import Split
from disparo.domain.statuses import ShotStatus

s = shots_sent.c
q = shots_queue.c
RUNNING = ShotStatus.RUNNING.value
REMEMBERED_IDS = 100_000  # ids already written that the writing leaves out itself (~6 MB)
SORT_MEMORY = "64MB"  # PostgreSQL sorts a million recipients in memory, not in temporary files


def chunk_sizes(grow_from: int | None, largest: int) -> Iterator[int]:
    """The rows of each chunk: doubling from `grow_from` up to `largest` (or `largest` each).

    Small chunks first reach the reserver sooner; larger ones later cost fewer transactions and,
    on SQLite, fewer rewrites of the index pages a chunk touches (the recipients come in send
    order, so their keys land all over the primary key's pages)."""
    size = largest if grow_from is None else min(largest, 2 * grow_from)
    while True:
        yield size
        size = min(largest, 2 * size)


class _RefusedError(Exception):
    """The shot is no longer this worker's to write, or no longer runs: roll the chunk back."""


async def continue_snapshot(
    db: Database,
    shot_id: int,
    *,
    bot_slug: str,
    target: str,
    recency_days: int | None,
    worker_id: str,
    now: datetime,
    chunk: int,
    written: Callable[[int], bool],
    grow_from: int | None = None,
) -> tuple[ReservationState, ShotStatus | None]:
    """Write the rest of the audience in chunks (`chunk_sizes(grow_from, chunk)` rows each),
    calling `written` with the rows written so far after each (False from it: stop here, the
    rest is left for later).

    OK once the audience is complete (or `written` asked to stop); LOST when the lease is not
    this worker's any more; STOPPED, with the shot's status, when the shot no longer runs.
    Each chunk checks the lease first and is fenced at its end by the update of the shot's
    total (only while this worker holds the running shot), so it holds the shot's row only
    for its last statement: the shot's reservations do not wait for its inserts.
    """
    sizes = chunk_sizes(grow_from, chunk)
    async with db.read() as conn:
        narrowing = await shot_narrowing(conn, shot_id)
        split = await shot_split(conn, shot_id)
        condition = audience_condition(bot_slug, target, recency_days, now=now, narrowing=narrowing)
        query = select(contacts.telegram_id).where(condition).order_by(*send_order())
        known = await _written_ids(conn, shot_id)
        if not db.is_sqlite:
            await conn.exec_driver_sql(f"SET LOCAL work_mem = '{SORT_MEMORY}'")
        result = await conn.stream(query.execution_options(yield_per=chunk))
        # The next chunk is read while this one is written (two connections, two threads or
        # server processes): the sort's output and the inserts overlap.
        reading = asyncio.ensure_future(result.fetchmany(next(sizes)))
        next_seq: int | None = None  # read with the first chunk
        try:
            while part := await reading:
                reading = asyncio.ensure_future(result.fetchmany(next(sizes)))
                ids = [int(row[0]) for row in part]
                if known is not None:
                    ids = [telegram_id for telegram_id in ids if telegram_id not in known]
                    if not ids:
                        continue
                try:
                    next_seq, total = await _write(
                        db, shot_id, bot_slug, ids, split, worker_id, next_seq, known is None
                    )
                except _RefusedError:
                    return await _why_not(db, shot_id, worker_id)
                if not written(total):
                    return ReservationState.OK, ShotStatus.RUNNING
        finally:
            await asyncio.gather(reading, return_exceptions=True)  # the read ahead, if any
            await result.close()  # the server-side cursor, when the writing stops early
    return await _complete(db, shot_id, worker_id)


async def _write(
    db: Database,
    shot_id: int,
    bot_slug: str,
    ids: list[int],
    split: Split | None,
    worker_id: str,
    next_seq: int | None,
    passing_over: bool,
) -> tuple[int, int]:
    """One chunk in its transaction (`passing_over` those the shot has already, unknown to
    the caller); (the seq after it, the shot's rows written)."""
    async with db.write() as conn:
        if _fence(await _shot_row(conn, shot_id, worker_id)) is not None:
            raise _RefusedError
        if next_seq is None:
            next_seq = await _next_seq(conn, shot_id)
        append = _append(db, shot_id, bot_slug, next_seq, split, passing_over=passing_over)
        done = await conn.execute(append, {"doc": json.dumps(ids)})
        total = await conn.scalar(
            _owned_update(shot_id, worker_id)
            .values(audience_total=func.coalesce(q.audience_total, 0) + done.rowcount)
            .returning(q.audience_total)
        )
        if total is None:
            raise _RefusedError
    return next_seq + len(ids), int(total)


def _owned_update(shot_id: int, worker_id: str) -> Any:
    """An update of the shot that changes it only while this worker holds it running."""
    return update(shots_queue).where(q.id == shot_id, q.locked_by == worker_id, q.status == RUNNING)


async def _shot_row(conn: AsyncConnection, shot_id: int, worker_id: str) -> Any | None:
    """The shot's status if `worker_id` holds it (not locked: the chunk's update fences)."""
    row = (await conn.execute(select(q.status, q.locked_by).where(q.id == shot_id))).first()
    return row if row is not None and row.locked_by == worker_id else None


async def _why_not(
    db: Database, shot_id: int, worker_id: str
) -> tuple[ReservationState, ShotStatus | None]:
    async with db.read() as conn:
        return _fence(await _shot_row(conn, shot_id, worker_id)) or (ReservationState.LOST, None)


async def _written_ids(conn: AsyncConnection, shot_id: int) -> set[int] | None:
    """The telegram ids the shot has rows for, if there are at most REMEMBERED_IDS of them
    (the head, or a snapshot interrupted early): the stream leaves them out in Python and the
    inserts are plain. More (a snapshot resumed late): None, and the inserts pass over them."""
    query = select(s.telegram_id).where(s.shot_id == shot_id).limit(REMEMBERED_IDS + 1)
    found = set((await conn.scalars(query)).all())
    return found if len(found) <= REMEMBERED_IDS else None


async def _next_seq(conn: AsyncConnection, shot_id: int) -> int:
    highest = await conn.scalar(select(func.max(s.seq)).where(s.shot_id == shot_id))
    return int(highest or 0) + 1


def _fence(row: Any | None) -> tuple[ReservationState, ShotStatus | None] | None:
    """Why a chunk may not be written (None: it may)."""
    if row is None:
        return ReservationState.LOST, None
    if row.status != RUNNING:
        return ReservationState.STOPPED, ShotStatus(row.status)
    return None


def _append(
    db: Database,
    shot_id: int,
    bot_slug: str,
    first_seq: int,
    split: Split | None,
    *,
    passing_over: bool,
) -> Any:
    """INSERT … SELECT of a JSON array of telegram ids numbered from `first_seq`; with
    `passing_over`, those the shot already has are left out (a skipped id keeps its number)."""
    telegram_id: ColumnElement[Any]
    if db.is_sqlite:
        ids = func.json_each(bindparam("doc")).table_valued("value", "key")
        telegram_id, seq = ids.c.value, literal(first_seq) + ids.c.key
    else:
        ids = func.json_array_elements_text(bindparam("doc")).table_valued(
            "value", with_ordinality="ordinality"
        )
        telegram_id = cast(ids.c.value, BigInteger)
        seq = cast(literal(first_seq - 1) + ids.c.ordinality, Integer)
    columns = ["shot_id", "bot_slug", "telegram_id", "seq", "status"]
    values: list[Any] = [literal(shot_id), literal(bot_slug), telegram_id, seq, literal(PENDING)]
    if split is not None:
        columns.append("variant")
        values.append(variant_of(split, shot_id, telegram_id))
    rows = select(*values).select_from(ids)
    statement: Any = insert(shots_sent).from_select(columns, rows)
    if passing_over and db.is_sqlite:
        # WHERE true: SQLite reads an INSERT … SELECT's ON CONFLICT only after a WHERE clause.
        rows = rows.where(true())
        statement = sqlite_insert(shots_sent).from_select(columns, rows).on_conflict_do_nothing()
    elif passing_over:  # a probe of the primary key: cheaper than ON CONFLICT's speculative insert
        written = select(s.shot_id).where(s.shot_id == shot_id, s.telegram_id == telegram_id)
        statement = insert(shots_sent).from_select(columns, rows.where(~written.exists()))
    return statement.execution_options(preserve_rowcount=True)


async def _complete(
    db: Database, shot_id: int, worker_id: str
) -> tuple[ReservationState, ShotStatus | None]:
    async with db.write() as conn:
        done = await conn.execute(_owned_update(shot_id, worker_id).values(audience_complete=True))
    if done.rowcount == 0:
        return await _why_not(db, shot_id, worker_id)
    return ReservationState.OK, ShotStatus.RUNNING
