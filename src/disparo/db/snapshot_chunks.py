"""The rest of a shot's audience, written in chunks while the shot sends.

`deliveries.snapshot_audience(first=N)` writes the first N recipients in send order and commits,
so the first message leaves without waiting for a million rows. `continue_snapshot` then reads
the rest of the audience in send order through one streaming query (one read snapshot of the
contacts, sorted once) and writes it in chunks, each its own short transaction fenced by the
lease, so reservations interleave with it (SQLite's one write lock is held a chunk at a time).

The query leaves out whoever already has a row of the shot, so a snapshot resumed after a
crash, a pause or a lost lease continues where the committed chunks end: nobody twice (the
primary key would refuse it anyway), nobody the audience holds at that moment left out, and
`seq` goes on from the rows written. `audience_total` counts them; `audience_complete` turns
true with the last chunk.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)

from disparo.db.audience import audience_condition, contacts, send_order, shot_narrowing
from disparo.db.deliveries import PENDING, ReservationState, owned_shot
from disparo.db.engine import Database
from disparo.db.experiment import shot_split, variant_of
from disparo.db.tables import shots_queue, shots_sent
from disparo.domain.experiment import Split
from disparo.domain.statuses import ShotStatus

s = shots_sent.c
q = shots_queue.c
RUNNING = ShotStatus.RUNNING.value
SORT_MEMORY = "64MB"  # PostgreSQL sorts a million recipients in memory, not in temporary files


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
) -> tuple[ReservationState, ShotStatus | None]:
    """Write the rest of the audience in chunks of `chunk` rows, calling `written` with the
    rows written so far after each (False from it: stop here, the rest is left for later).

    OK once the audience is complete (or `written` asked to stop); LOST when the lease is not
    this worker's any more; STOPPED, with the shot's status, when the shot no longer runs.
    """
    async with db.read() as conn:
        narrowing = await shot_narrowing(conn, shot_id)
        split = await shot_split(conn, shot_id)
        condition = audience_condition(bot_slug, target, recency_days, now=now, narrowing=narrowing)
        taken = exists().where(s.shot_id == shot_id, s.telegram_id == contacts.telegram_id)
        query = select(contacts.telegram_id).where(condition, ~taken).order_by(*send_order())
        if not db.is_sqlite:
            await conn.exec_driver_sql(f"SET LOCAL work_mem = '{SORT_MEMORY}'")
        result = await conn.stream(query.execution_options(yield_per=chunk))
        try:
            async for part in result.partitions(chunk):
                ids = [int(row[0]) for row in part]
                state, status, total = await _write_chunk(
                    db, shot_id, bot_slug, ids, split, worker_id
                )
                if state is not ReservationState.OK:
                    return state, status
                if not written(total):
                    return ReservationState.OK, ShotStatus.RUNNING
        finally:
            await result.close()  # the server-side cursor, when the writing stops early
    return await _complete(db, shot_id, worker_id)


def _fence(row: Any | None) -> tuple[ReservationState, ShotStatus | None] | None:
    """Why a chunk may not be written (None: it may)."""
    if row is None:
        return ReservationState.LOST, None
    if row.status != RUNNING:
        return ReservationState.STOPPED, ShotStatus(row.status)
    return None


async def _write_chunk(
    db: Database,
    shot_id: int,
    bot_slug: str,
    ids: Sequence[int],
    split: Split | None,
    worker_id: str,
) -> tuple[ReservationState, ShotStatus | None, int]:
    """Append `ids` to the shot's deliveries, numbered after the rows already written."""
    async with db.write() as conn:
        row = await owned_shot(conn, shot_id, worker_id)
        refused = _fence(row)
        if refused is not None:
            return *refused, 0
        assert row is not None
        base = int(row.audience_total or 0)
        await conn.execute(_append(db, shot_id, bot_slug, base, split), {"doc": json.dumps(ids)})
        total = base + len(ids)
        await conn.execute(update(shots_queue).where(q.id == shot_id).values(audience_total=total))
        return ReservationState.OK, ShotStatus.RUNNING, total


def _append(db: Database, shot_id: int, bot_slug: str, base: int, split: Split | None) -> Any:
    """INSERT … SELECT of a JSON array of telegram ids, `seq` counting on from `base`."""
    telegram_id: ColumnElement[Any]
    if db.is_sqlite:
        ids = func.json_each(bindparam("doc")).table_valued("value", "key")
        telegram_id, seq = ids.c.value, literal(base + 1) + ids.c.key
    else:
        ids = func.json_array_elements_text(bindparam("doc")).table_valued(
            "value", with_ordinality="ordinality"
        )
        telegram_id = cast(ids.c.value, BigInteger)
        seq = cast(literal(base) + ids.c.ordinality, Integer)
    columns = ["shot_id", "bot_slug", "telegram_id", "seq", "status"]
    values: list[Any] = [literal(shot_id), literal(bot_slug), telegram_id, seq, literal(PENDING)]
    if split is not None:
        columns.append("variant")
        values.append(variant_of(split, shot_id, telegram_id))
    return insert(shots_sent).from_select(columns, select(*values).select_from(ids))


async def _complete(
    db: Database, shot_id: int, worker_id: str
) -> tuple[ReservationState, ShotStatus | None]:
    async with db.write() as conn:
        refused = _fence(await owned_shot(conn, shot_id, worker_id))
        if refused is not None:
            return refused
        await conn.execute(
            update(shots_queue).where(q.id == shot_id).values(audience_complete=True)
        )
        return ReservationState.OK, ShotStatus.RUNNING
