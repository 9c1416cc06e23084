"""Deliveries (`shots_sent` rows) on their way out: snapshot a shot's audience, reserve batches.

The never-twice rule starts here: a delivery goes `pending → sending` in a committed transaction
before any request, only from `pending`, and only while the shot's lease is the reserving
worker's. How a delivery leaves `sending` is `db/outcomes.py`; how a shot ends, `db/finish.py`.
The values the sender trades with the database (reservations, outcomes) are defined here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    case,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.audience import (
    SHOT_WITH_SEGMENT,
    audience_select,
    narrowing_columns,
    narrowing_of,
)
from disparo.db.engine import Database
from disparo.db.experiment import split_columns, split_from, variant_of
from disparo.db.reservation import NO_RULES, ReservationRules
from disparo.db.tables import shots_queue, shots_sent
from disparo.db.types import UTCDateTime
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import DeliveryStatus, ShotStatus

s = shots_sent.c
q = shots_queue.c
SENDING = DeliveryStatus.SENDING.value
PENDING = DeliveryStatus.PENDING.value
SKIPPED = DeliveryStatus.SKIPPED.value
HOLDOUT = DeliveryStatus.HOLDOUT.value
INELIGIBLE = Reason.INELIGIBLE.value


@dataclass(frozen=True, slots=True)
class Reserved:
    """A delivery this worker reserved and alone may send."""

    telegram_id: int
    seq: int
    variant: str | None = None  # the variant to send (None: the shot's own content)


class ReservationState(StrEnum):
    """Whether a reservation could run."""

    OK = "ok"  # the shot runs under this worker's lease: its rows are reserved (maybe none left)
    LOST = "lost"  # the lease is not this worker's any more (or expired): nothing moved
    STOPPED = "stopped"  # still this worker's, but no longer running: nothing moved


@dataclass(frozen=True, slots=True)
class Reservation:
    """The result of one reservation: its state, the rows reserved and the rows skipped.

    `shot_status` is the shot's status when the lease was still this worker's (running when
    OK; paused, cancelled, or pending again after a quick resume when STOPPED), None when LOST.
    """

    state: ReservationState
    rows: list[Reserved]
    skipped: dict[str, int]  # deliveries found ineligible at reservation, by reason
    shot_status: ShotStatus | None = None
    held: int = 0  # holdout members passed (status holdout: never sent anything)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The final outcome of one delivery, as the engine records it."""

    shot_id: int
    telegram_id: int
    status: str
    reason: str | None = None
    error: str | None = None
    message_id: int | None = None
    sent_at: datetime | None = None
    attempts: int = 1
    audio_message_id: int | None = None  # an audio shot's first message, once both went


@dataclass(frozen=True, slots=True)
class ContactChange:
    """A contact Telegram proved unreachable (blocked the bot, or deleted their account)."""

    bot_slug: str
    telegram_id: int
    chat_state: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A shot's audience written so far, and the deliveries reserved for this worker with it
    (its first batch, in send order; none when the audience was already written: a resumed
    shot). Not `complete`: the rest is still to be written (`db.snapshot_chunks`)."""

    total: int
    reserved: list[Reserved]
    complete: bool = True


async def owned_shot(
    conn: AsyncConnection, shot_id: int, worker_id: str, *also: ColumnElement[Any]
) -> Any | None:
    """The shot row, row-locked on PostgreSQL, if `worker_id` holds its lease; else None.
    `also`: more columns of the shot or of its segment (`SHOT_WITH_SEGMENT`)."""
    query = (
        select(
            q.status,
            q.locked_by,
            q.lease_expires_at,
            q.audience_total,
            q.audience_complete,
            q.expires_at,
            *also,
        )
        .select_from(SHOT_WITH_SEGMENT)
        .where(q.id == shot_id)
        .with_for_update(of=shots_queue)
    )
    row = (await conn.execute(query)).first()
    return row if row is not None and row.locked_by == worker_id else None


async def snapshot_audience(
    db: Database,
    shot_id: int,
    *,
    bot_slug: str,
    target: str,
    recency_days: int | None,
    worker_id: str,
    now: datetime,
    reserve: int = 0,
    first: int | None = None,
) -> Snapshot | None:
    """Write the shot's audience into `shots_sent` once (INSERT … SELECT, numbered in send
    order), reserving its first `reserve` deliveries in the same transaction so that sending
    starts without another round trip.

    With `first`, only the first `first` recipients in send order are written (a top-N query
    that does not sort the whole audience) and, when that many were found, the snapshot is left
    incomplete for `snapshot_chunks.continue_snapshot` to finish while the shot sends. Winner
    mode's shots are written whole (the decision rewrites the remainder in one statement).

    None when the lease is not this worker's. A shot whose audience is already written, whole
    or in part (a resumed shot), keeps it and reserves nothing here. A shot with an empty
    audience ends at once as `skipped`. The first deliveries are reserved only while the shot
    runs under an unexpired lease, as `reserve_batch` would; all of them are reachable, selected
    this instant.
    """
    # No wake-up: an empty audience frees the bot, and the sender's end wakes this worker.
    async with db.write() as conn:
        # The lease, the split and the filter in one read: a hundred shots claimed at once
        # snapshot together, and each round trip here delays their first sends.
        row = await owned_shot(conn, shot_id, worker_id, *split_columns(), *narrowing_columns())
        if row is None:
            return None
        if row.audience_total is not None:
            return Snapshot(int(row.audience_total), [], bool(row.audience_complete))
        split = await split_from(conn, shot_id, row)
        if row.status != ShotStatus.RUNNING.value or row.lease_expires_at <= now or split:
            reserve = 0  # a split's holdout and undecided rows are left to the reservations
        if split is not None and split.undecided:
            first = None
        query = audience_select(
            bot_slug, target, recency_days, now=now, narrowing=narrowing_of(row), limit=first
        )
        audience = query.subquery()
        columns = ["shot_id", "bot_slug", "telegram_id", "seq", "status"]
        values: list[Any] = [literal(shot_id), literal(bot_slug), audience.c.telegram_id]
        values += [audience.c.seq, literal(PENDING)]
        if split is not None:
            columns.append("variant")
            values.append(variant_of(split, shot_id, audience.c.telegram_id))
        if reserve:  # the first deliveries go out reserved, stamped as `reserve_batch` stamps them
            reserved_now = audience.c.seq <= reserve
            columns.append("updated_at")
            values[-1] = case((reserved_now, SENDING), else_=PENDING)
            values.append(case((reserved_now, literal(now, UTCDateTime())), else_=None))
        rows = select(*values)
        written = insert(shots_sent).from_select(columns, rows)
        total = (await conn.execute(written.execution_options(preserve_rowcount=True))).rowcount
        complete = first is None or total < first
        shot_values: dict[str, Any] = {
            "audience_total": total,
            "audience_complete": complete,
            "updated_at": now,
        }
        if total == 0:
            shot_values.update(
                status=ShotStatus.SKIPPED.value,
                last_error="the audience is empty: no reachable contact matches the target",
                finished_at=now,
                locked_by=None,
                lease_expires_at=None,
            )
        await conn.execute(update(shots_queue).where(q.id == shot_id).values(**shot_values))
        reserved: list[Reserved] = []
        if reserve and total:
            query = (
                select(s.telegram_id, s.seq)
                .where(s.shot_id == shot_id, s.status == SENDING)
                .order_by(s.seq)
            )
            reserved = [Reserved(int(r.telegram_id), int(r.seq)) for r in await conn.execute(query)]
        return Snapshot(total, reserved, complete)


class _Reserved(NamedTuple):
    shot_status: str
    owned: bool | None
    telegram_id: int | None
    seq: int | None
    status: str | None
    reason: str | None
    variant: str | None


async def reserve_batch(
    db: Database,
    shot_id: int,
    *,
    worker_id: str,
    now: datetime,
    limit: int,
    rules: ReservationRules = NO_RULES,
) -> Reservation:
    """Move up to `limit` pending deliveries, in send order, to `sending` for this worker.

    Deliveries whose contact blocked the bot, deleted their account or disappeared since the
    snapshot are skipped here (reason blocked, deactivated or ineligible) instead of reserved;
    so are those the shot's `rules` leave out (converted, frequency_cap). Nothing moves unless
    the shot is running and its lease is this worker's and unexpired.
    """
    sql = rules.statements()
    params: dict[str, Any] = {"shot_id": shot_id, "worker_id": worker_id, "now": now}
    params.update(limit=limit, **rules.params())
    result: Sequence[Any] = ()
    if db.is_sqlite:
        async with db.write() as conn:
            fence = (await conn.execute(sql.sqlite_fence, params)).first()
            if fence is not None and fence.owned and fence.shot_status == ShotStatus.RUNNING:
                result = (await conn.execute(sql.sqlite_reserve, params)).all()
    else:
        # One statement, its own transaction: committed before any row is returned to send.
        assert db.raw is not None
        result = [_Reserved(*row) for row in await db.raw.fetchall(sql.postgresql, params)]
        fence = result[0] if result else None
        result = [r for r in result if r.telegram_id is not None]
    if fence is None or not fence.owned:
        return Reservation(ReservationState.LOST, [], {})
    status = ShotStatus(fence.shot_status)
    if status is not ShotStatus.RUNNING:
        return Reservation(ReservationState.STOPPED, [], {}, status)
    rows = sorted(
        (Reserved(r.telegram_id, r.seq, r.variant) for r in result if r.status == SENDING),
        key=lambda r: r.seq,
    )
    skipped = Counter(str(r.reason) for r in result if r.status == SKIPPED)
    held = sum(1 for r in result if r.status == HOLDOUT)
    return Reservation(ReservationState.OK, rows, dict(skipped), status, held)
