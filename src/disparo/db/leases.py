"""Which worker owns which shot: claim, renew and release leases; stop a bot's shots; find due
shots. A lease whose worker stopped renewing it is freed by `db/rescue.py`.

A lease is `shots_queue.locked_by` + `lease_expires_at`. Every change a worker makes to a shot
it owns is fenced by `locked_by = <its id>`, so a worker whose lease was rescued changes
nothing. At most one shot per bot is `running` (the partial unique index
`uq_shots_queue_running_bot`), and a claim also skips a bot while any of its shots is still
locked (a paused or cancelled shot whose in-flight requests are draining). A due shot is pending,
its `scheduled_at` passed and its `expires_at` (if any) not yet. Each function is one short
transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.engine import Database
from disparo.db.experiment import variants_of
from disparo.db.jobs import bot_has_running_job, claim_lock
from disparo.db.outcomes import return_unsent
from disparo.db.tables import shots_queue
from disparo.db.types import JSONValue
from disparo.db.webhook_events import record_shots_ended, record_shots_started
from disparo.db.winner import decide
from disparo.domain.experiment import Variant
from disparo.domain.statuses import ShotStatus

q = shots_queue.c
RUNNING_INDEX = "uq_shots_queue_running_bot"


@dataclass(frozen=True, slots=True)
class ClaimedShot:
    """A shot this worker now owns, with everything needed to send it."""

    id: int
    bot_slug: str
    target: str
    recency_days: int | None
    copy: str
    media_url: str | None
    media_type: str
    buttons: JSONValue  # rows of {"text", "url"} as the API stored them; checked when sent
    scheduled_at: datetime
    attempt_count: int
    audience_total: int | None  # None until the audience is snapshotted
    started_at: datetime
    created_at: datetime  # `stop_on` counts conversions after this
    expires_at: datetime | None = None  # unsent deliveries end skipped (expired) from then on
    audience_complete: bool = True  # False while the rest of the audience is still written
    stop_on: str | None = None  # pix_created or paid: such recipients are skipped (converted)
    ignore_frequency_cap: bool = False
    templated: bool = False  # copy and button URLs in template syntax (see domain/personal.py)
    winner: JSONValue = None  # winner mode's settings, None without it
    winner_decision: JSONValue = None  # its decision once taken
    track_clicks: bool = True  # its links go through the redirect (with a public URL)
    track_copy_links: bool = False  # the copy's links too, not only URL buttons
    variants: tuple[Variant, ...] = ()  # what each variant sends (none: the shot's own content)

    @property
    def undecided(self) -> bool:
        """Winner mode before its decision: only the test share and the holdout are sent."""
        return self.winner is not None and not (
            isinstance(self.winner_decision, dict) and "winner" in self.winner_decision
        )


_CLAIMED_COLUMNS = [q[name] for name in ClaimedShot.__slots__ if name != "variants"]


async def _with_variants(
    conn: AsyncConnection, rows: Sequence[Any], now: datetime
) -> list[ClaimedShot]:
    """The claimed shots with their variants; winner mode's decision taken first when the
    test share is done (the shot waited for it)."""
    found = await variants_of(conn, [row["id"] for row in rows])
    claimed = []
    for row in rows:
        values = dict(row)
        if values["winner"] is not None:
            decision = await decide(conn, values["id"], now=now)
            if decision is not None:
                values["winner_decision"] = decision
        claimed.append(ClaimedShot(**values, variants=found.get(values["id"], ())))
    return claimed


def _bot_is_busy() -> Any:
    """Another shot of the bot runs, or one of its recall or edit jobs does."""
    other = shots_queue.alias("other")
    running = exists().where(
        other.c.bot_slug == q.bot_slug,
        or_(other.c.status == ShotStatus.RUNNING.value, other.c.locked_by.is_not(None)),
    )
    return or_(running, bot_has_running_job(q.bot_slug))


def _unexpired(now: datetime) -> Any:
    # A pending shot past its expires_at is not due: the periodic sweep (`finish.expire_shots`)
    # ends it expired without a claim, so it never counts an attempt nor looks started.
    return or_(q.expires_at.is_(None), q.expires_at > now)


def _candidate(now: datetime, skip_bots: Collection[str]) -> Any:
    query = (
        select(q.id, q.bot_slug)
        .where(
            q.status == ShotStatus.PENDING.value,
            q.scheduled_at <= now,
            _unexpired(now),
            q.locked_by.is_(None),
            ~_bot_is_busy(),
        )
        .order_by(q.scheduled_at, q.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=shots_queue)
    )
    if skip_bots:
        query = query.where(q.bot_slug.not_in(list(skip_bots)))
    return query


def _claim(worker_id: str, now: datetime, lease_expires_at: datetime) -> Any:
    return update(shots_queue).values(
        status=ShotStatus.RUNNING.value,
        locked_by=worker_id,
        lease_expires_at=lease_expires_at,
        attempt_count=q.attempt_count + 1,
        started_at=func.coalesce(q.started_at, now),
        updated_at=now,
    )


async def claim_due_shots(
    db: Database,
    *,
    worker_id: str,
    now: datetime,
    lease_expires_at: datetime,
    limit: int,
) -> list[ClaimedShot]:
    """Take up to `limit` due pending shots in one transaction, oldest first, at most one per
    bot and none of a bot that has a running or locked shot (a worker starting 100 bots needs
    one round of statements, not 100).

    Empty when nothing is claimable, or when another worker started a shot of one of these bots
    meanwhile (the running-shot index refuses the whole batch): the caller then claims one at a
    time with `claim_due_shot`, which steps around that bot.
    """
    try:
        async with db.write() as conn:
            await claim_lock(conn)
            rows = (await conn.execute(_candidate(now, ()).limit(2 * limit))).all()
            picked: dict[str, int] = {}
            for row in rows:
                picked.setdefault(row.bot_slug, row.id)  # the oldest of each bot
                if len(picked) == limit:
                    break
            if not picked:
                return []
            query = (
                _claim(worker_id, now, lease_expires_at)
                .where(
                    q.id.in_(list(picked.values())),
                    q.status == ShotStatus.PENDING.value,
                    q.locked_by.is_(None),
                )
                .returning(*_CLAIMED_COLUMNS)
            )
            taken = (await conn.execute(query)).mappings().all()
            claimed = await _with_variants(conn, taken, now)
            await record_shots_started(conn, claimed, now=now)
    except IntegrityError as exc:
        if RUNNING_INDEX not in str(exc.orig):
            raise
        return []
    return sorted(claimed, key=lambda s: (s.scheduled_at, s.id))


async def claim_due_shot(
    db: Database,
    *,
    worker_id: str,
    now: datetime,
    lease_expires_at: datetime,
    skip_bots: Iterable[str] = (),
) -> ClaimedShot | None:
    """Take the oldest due pending shot of a bot nobody is sending for; None when there is none.

    PostgreSQL skips rows another claimer holds (SKIP LOCKED); two claimers that pick two shots
    of one bot collide on the running-shot index, and the loser rolls back and tries another bot.
    """
    skipped = set(skip_bots)
    claim = _claim(worker_id, now, lease_expires_at)
    for _ in range(8):
        bot_slug = None
        try:
            async with db.write() as conn:
                await claim_lock(conn)
                row = (await conn.execute(_candidate(now, skipped))).first()
                if row is None:
                    return None
                bot_slug = row.bot_slug
                query = claim.where(
                    q.id == row.id, q.status == ShotStatus.PENDING.value, q.locked_by.is_(None)
                ).returning(*_CLAIMED_COLUMNS)
                taken = (await conn.execute(query)).mappings().first()
                claimed = None if taken is None else (await _with_variants(conn, [taken], now))[0]
                await record_shots_started(conn, [claimed] if claimed else [], now=now)
        except IntegrityError as exc:
            if RUNNING_INDEX not in str(exc.orig):
                raise
            # Another worker started a shot of this bot meanwhile: leave the bot to it.
            skipped.add(str(bot_slug))
            continue
        if claimed is not None:
            return claimed
        skipped.add(str(bot_slug))  # the row changed under us (SQLite cannot skip locked rows)
    return None


async def renew_leases(
    db: Database,
    *,
    worker_id: str,
    shot_ids: Collection[int],
    lease_expires_at: datetime,
) -> dict[int, ShotStatus]:
    """Extend the leases this worker still holds; the held shots' ids and current statuses."""
    if not shot_ids:
        return {}
    query = (
        update(shots_queue)
        .where(q.locked_by == worker_id, q.id.in_(list(shot_ids)))
        .values(lease_expires_at=lease_expires_at)
        .returning(q.id, q.status)
    )
    async with db.write() as conn:
        return {row.id: ShotStatus(row.status) for row in await conn.execute(query)}


async def shot_states(
    db: Database, shot_ids: Collection[int]
) -> dict[int, tuple[ShotStatus, str | None]]:
    """`(status, locked_by)` of each shot (a cheap read the worker polls for pause and cancel)."""
    if not shot_ids:
        return {}
    query = select(q.id, q.status, q.locked_by).where(q.id.in_(list(shot_ids)))
    async with db.read() as conn:
        return {
            row.id: (ShotStatus(row.status), row.locked_by) for row in await conn.execute(query)
        }


async def release_shot(
    db: Database,
    shot_id: int,
    *,
    worker_id: str,
    now: datetime,
    unsent: Collection[int] = (),
    count_attempt: bool = False,
) -> bool:
    """Hand a shot back cleanly (SIGTERM, pause): running → pending, the attempt not counted.

    The deliveries reserved but never sent (`unsent`) go back to pending in the same commit.
    `count_attempt` keeps the attempt counted (the worker lost its lease: a failed attempt).
    False when the lease was no longer ours (nothing changed, and the rows stay as they were).
    """
    async with db.write(wake=True) as conn:
        query = (
            update(shots_queue)
            .where(q.id == shot_id, q.locked_by == worker_id)
            .values(
                status=case(
                    (q.status == ShotStatus.RUNNING.value, ShotStatus.PENDING.value),
                    else_=q.status,
                ),
                locked_by=None,
                lease_expires_at=None,
                attempt_count=q.attempt_count
                if count_attempt
                else case((q.attempt_count > 0, q.attempt_count - 1), else_=0),
                updated_at=now,
            )
        )
        if (await conn.execute(query)).rowcount == 0:
            return False
        await return_unsent(conn, shot_id, unsent, now=now)
        return True


async def stop_bot_shots(
    db: Database,
    bot_slug: str,
    *,
    message: str,
    now: datetime,
    worker_id: str,
    shot_id: int | None = None,
    unsent: Collection[int] = (),
) -> list[int]:
    """Stop every unfinished shot of a bot with `message` (its token was revoked).

    The calling worker's own shot `shot_id` hands back its `unsent` deliveries in the same commit.
    """
    async with db.write() as conn:
        if shot_id is not None:
            await return_unsent(conn, shot_id, unsent, now=now)
        query = (
            update(shots_queue)
            .where(
                q.bot_slug == bot_slug,
                q.status.in_(
                    (ShotStatus.PENDING.value, ShotStatus.RUNNING.value, ShotStatus.PAUSED.value)
                ),
                or_(q.locked_by.is_(None), q.locked_by == worker_id),
            )
            .values(
                status=ShotStatus.ERROR.value,
                last_error=message,
                locked_by=None,
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
            )
            .returning(q.id)
        )
        stopped = [row.id for row in await conn.execute(query)]
        await record_shots_ended(conn, stopped, now=now)
        return stopped


async def due_summary(db: Database, *, now: datetime) -> tuple[int, datetime | None]:
    """One read for the worker's tick: how many pending shots are due now (a gauge, and
    whether a claim is worth trying; an expired one is not due), and when the next unlocked
    pending shot becomes due (after `now`; None when none is scheduled later)."""
    query = select(
        func.count().filter(q.scheduled_at <= now, _unexpired(now)),
        func.min(q.scheduled_at).filter(q.locked_by.is_(None), q.scheduled_at > now),
    ).where(q.status == ShotStatus.PENDING.value)
    async with db.read() as conn:
        row = (await conn.execute(query)).one()
    return int(row[0] or 0), row[1]
