"""The engine's storage on SQLite and PostgreSQL: the worker's named queries bound to a database.

`SqlShotStore` implements `disparo.engine.store.ShotStore` (structurally: db/ never imports the
engine) by delegating to the functions of `leases`, `rescue`, `deliveries`, `snapshot_chunks`,
`outcomes`, `finish` and `bots`; the SQL and its per-backend differences stay in those modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from disparo.db import bots, deliveries, finish, leases, rescue, shots, snapshot_chunks
from disparo.db.contact_values import contact_values
from disparo.db.deliveries import (
    ContactChange,
    DeliveryOutcome,
    Reservation,
    ReservationState,
    Snapshot,
)
from disparo.db.engine import Database
from disparo.db.leases import ClaimedShot
from disparo.db.notify import ShotListener
from disparo.db.outcomes import record_outcomes
from disparo.db.rescue import RescuedShot
from disparo.db.reservation import NO_RULES, ReservationRules
from disparo.db.secrets import SecretKeyError, TokenCipher
from disparo.domain.statuses import ShotStatus
from disparo.domain.variables import ContactValues


class SqlShotStore:
    """The worker's reads and writes on one `Database`; `cipher` opens the bots' tokens."""

    def __init__(self, db: Database, cipher: TokenCipher) -> None:
        self.db = db
        self._cipher = cipher

    @asynccontextmanager
    async def wake_ups(
        self, callback: Callable[[], None], *, other_processes: bool
    ) -> AsyncIterator[None]:
        """This process's commits that queue work call `callback`; with `other_processes`,
        every process's too (LISTEN on PostgreSQL, this process's socket on SQLite)."""
        self.db.on_wake(callback)
        if other_processes and self.db.is_sqlite:
            async with self.db.receive_wake_ups(callback):
                yield
        elif other_processes:
            async with ShotListener(self.db.url, callback):
                yield
        else:
            yield

    async def due_summary(self, *, now: datetime) -> tuple[int, datetime | None]:
        """See `leases.due_summary`."""
        return await leases.due_summary(self.db, now=now)

    async def claim_due_shots(
        self, *, worker_id: str, now: datetime, lease_expires_at: datetime, limit: int
    ) -> list[ClaimedShot]:
        """See `leases.claim_due_shots`."""
        return await leases.claim_due_shots(
            self.db, worker_id=worker_id, now=now, lease_expires_at=lease_expires_at, limit=limit
        )

    async def claim_due_shot(
        self, *, worker_id: str, now: datetime, lease_expires_at: datetime
    ) -> ClaimedShot | None:
        """See `leases.claim_due_shot`."""
        return await leases.claim_due_shot(
            self.db, worker_id=worker_id, now=now, lease_expires_at=lease_expires_at
        )

    async def bots(self, slugs: Collection[str]) -> dict[str, bots.BotRecord | SecretKeyError]:
        """The bots among `slugs` in one read, each opened with the cipher (or its error)."""
        async with self.db.read() as conn:
            rows = await bots.sealed_bots(conn, slugs)
        found: dict[str, bots.BotRecord | SecretKeyError] = {}
        for slug, row in rows.items():
            try:
                found[slug] = bots.open_bot(row, self._cipher)
            except SecretKeyError as exc:
                found[slug] = exc
        return found

    async def renew_leases(
        self, *, worker_id: str, shot_ids: Collection[int], lease_expires_at: datetime
    ) -> dict[int, ShotStatus]:
        """See `leases.renew_leases`."""
        return await leases.renew_leases(
            self.db, worker_id=worker_id, shot_ids=shot_ids, lease_expires_at=lease_expires_at
        )

    async def shot_states(
        self, shot_ids: Collection[int]
    ) -> dict[int, tuple[ShotStatus, str | None]]:
        """See `leases.shot_states`."""
        return await leases.shot_states(self.db, shot_ids)

    async def release_shot(
        self,
        shot_id: int,
        *,
        worker_id: str,
        now: datetime,
        unsent: Collection[int] = (),
        count_attempt: bool = False,
    ) -> bool:
        """See `leases.release_shot`."""
        return await leases.release_shot(
            self.db,
            shot_id,
            worker_id=worker_id,
            now=now,
            unsent=unsent,
            count_attempt=count_attempt,
        )

    async def stop_bot_shots(
        self,
        bot_slug: str,
        *,
        message: str,
        now: datetime,
        worker_id: str,
        shot_id: int | None = None,
        unsent: Collection[int] = (),
    ) -> list[int]:
        """See `leases.stop_bot_shots`."""
        return await leases.stop_bot_shots(
            self.db,
            bot_slug,
            message=message,
            now=now,
            worker_id=worker_id,
            shot_id=shot_id,
            unsent=unsent,
        )

    async def rescue_expired(
        self, *, now: datetime, worker_id: str | None = None, keeping: Collection[int] = ()
    ) -> list[RescuedShot]:
        """See `rescue.rescue_expired`."""
        return await rescue.rescue_expired(self.db, now=now, worker_id=worker_id, keeping=keeping)

    async def settle_cancelled(self, *, now: datetime) -> int:
        """See `finish.settle_cancelled`."""
        return await finish.settle_cancelled(self.db, now=now)

    async def expire_shots(self, *, now: datetime) -> list[int]:
        """See `finish.expire_shots`."""
        return await finish.expire_shots(self.db, now=now)

    async def snapshot_audience(
        self,
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
        """See `deliveries.snapshot_audience`."""
        return await deliveries.snapshot_audience(
            self.db,
            shot_id,
            bot_slug=bot_slug,
            target=target,
            recency_days=recency_days,
            worker_id=worker_id,
            now=now,
            reserve=reserve,
            first=first,
        )

    async def continue_snapshot(
        self,
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
        """See `snapshot_chunks.continue_snapshot`."""
        return await snapshot_chunks.continue_snapshot(
            self.db,
            shot_id,
            bot_slug=bot_slug,
            target=target,
            recency_days=recency_days,
            worker_id=worker_id,
            now=now,
            chunk=chunk,
            written=written,
            grow_from=grow_from,
        )

    async def reserve_batch(
        self,
        shot_id: int,
        *,
        worker_id: str,
        now: datetime,
        limit: int,
        rules: ReservationRules = NO_RULES,
    ) -> Reservation:
        """See `deliveries.reserve_batch`."""
        return await deliveries.reserve_batch(
            self.db, shot_id, worker_id=worker_id, now=now, limit=limit, rules=rules
        )

    async def record_outcomes(
        self,
        outcomes: Sequence[DeliveryOutcome],
        contact_changes: Sequence[ContactChange] = (),
        *,
        now: datetime,
    ) -> None:
        """See `outcomes.record_outcomes`."""
        await record_outcomes(self.db, outcomes, contact_changes, now=now)

    async def finish_shot(
        self,
        shot_id: int,
        *,
        worker_id: str,
        now: datetime,
        status: ShotStatus = ShotStatus.SENT,
        last_error: str | None = None,
        unsent: Collection[int] = (),
    ) -> dict[str, int] | None:
        """See `finish.finish_shot`."""
        return await finish.finish_shot(
            self.db,
            shot_id,
            worker_id=worker_id,
            now=now,
            status=status,
            last_error=last_error,
            unsent=unsent,
        )

    async def finish_cancelled(
        self, shot_id: int, *, worker_id: str, now: datetime, unsent: Collection[int] = ()
    ) -> dict[str, int] | None:
        """See `finish.finish_cancelled`."""
        return await finish.finish_cancelled(
            self.db, shot_id, worker_id=worker_id, now=now, unsent=unsent
        )

    async def finish_expired(
        self, shot_id: int, *, worker_id: str, now: datetime, unsent: Collection[int] = ()
    ) -> dict[str, int] | None:
        """See `finish.finish_expired`."""
        return await finish.finish_expired(
            self.db, shot_id, worker_id=worker_id, now=now, unsent=unsent
        )

    async def delivery_counts(self, shot_id: int) -> dict[str, int]:
        """See `shots.delivery_counts`."""
        async with self.db.read() as conn:
            counts = await shots.delivery_counts(conn, [shot_id])
        return counts.get(shot_id, {})

    async def contact_values(
        self, bot_slug: str, telegram_ids: Collection[int], variables: Collection[str]
    ) -> dict[int, ContactValues]:
        """See `contact_values.contact_values`."""
        async with self.db.read() as conn:
            return await contact_values(conn, bot_slug, telegram_ids, variables)
