"""The engine's storage: every read and write the worker makes, behind one interface.

`disparo.db.store.SqlShotStore` implements it on SQLite and PostgreSQL (the named queries of
`db/`); `engine.memory_store.MemoryShotStore` implements it in memory, so the engine's logic
runs in unit tests without a database. Each call is one short transaction of its own. Every
change to a shot a worker owns is fenced by `worker_id`: a worker whose lease was taken changes
nothing. `tests/integration/test_store_contract.py` holds both implementations to one behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from disparo.db.bots import BotRecord
from disparo.db.deliveries import (
    ContactChange,
    DeliveryOutcome,
    Reservation,
    ReservationState,
    Snapshot,
)
from disparo.db.leases import ClaimedShot
from disparo.db.rescue import RescuedShot
from disparo.db.reservation import NO_RULES, ReservationRules
from disparo.db.secrets import SecretKeyError
from disparo.domain.statuses import ShotStatus
from disparo.domain.variables import ContactValues


class ShotStore(Protocol):
    """What the worker reads and writes: claims, leases, deliveries, outcomes and ends."""

    # wake-ups and claims ---------------------------------------------------------------------

    def wake_ups(
        self, callback: Callable[[], None], *, other_processes: bool
    ) -> AbstractAsyncContextManager[None]:
        """While inside, call `callback` when a shot may have become due or an owned one changed
        (a commit of this process; of any process too when `other_processes`)."""
        ...

    async def due_summary(self, *, now: datetime) -> tuple[int, datetime | None]:
        """How many pending shots are due at `now`, and when the next unlocked one becomes due."""
        ...

    async def claim_due_shots(
        self, *, worker_id: str, now: datetime, lease_expires_at: datetime, limit: int
    ) -> list[ClaimedShot]:
        """Take up to `limit` due shots, oldest first, one per bot, none of a busy bot; empty
        when nothing is claimable or another worker took one of these bots meanwhile."""
        ...

    async def claim_due_shot(
        self, *, worker_id: str, now: datetime, lease_expires_at: datetime
    ) -> ClaimedShot | None:
        """Take the oldest due shot of a bot nobody is sending for, stepping around contention."""
        ...

    async def bots(self, slugs: Collection[str]) -> dict[str, BotRecord | SecretKeyError]:
        """The registered bots among `slugs` with their tokens opened; a bot whose token this
        process's key cannot open maps to the error saying so (only its shots fail)."""
        ...

    # leases ----------------------------------------------------------------------------------

    async def renew_leases(
        self, *, worker_id: str, shot_ids: Collection[int], lease_expires_at: datetime
    ) -> dict[int, ShotStatus]:
        """Extend the leases `worker_id` still holds; those shots and their statuses."""
        ...

    async def shot_states(
        self, shot_ids: Collection[int]
    ) -> dict[int, tuple[ShotStatus, str | None]]:
        """`(status, locked_by)` of each shot."""
        ...

    async def release_shot(
        self,
        shot_id: int,
        *,
        worker_id: str,
        now: datetime,
        unsent: Collection[int] = (),
        count_attempt: bool = False,
    ) -> bool:
        """Hand a shot back (running → pending, lease freed, attempt not counted unless
        `count_attempt`), its `unsent` deliveries back to pending; False if not ours."""
        ...

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
        """End every unfinished shot of a bot in error with `message` (its token is refused);
        this worker's `shot_id` hands its `unsent` deliveries back first."""
        ...

    async def rescue_expired(
        self, *, now: datetime, worker_id: str | None = None, keeping: Collection[int] = ()
    ) -> list[RescuedShot]:
        """Free the shots whose lease expired (their reserved deliveries become unknown), except
        the ones this worker is still `keeping`."""
        ...

    async def settle_cancelled(self, *, now: datetime) -> int:
        """Never-sent deliveries of cancelled, unlocked shots end skipped (cancelled); how many."""
        ...

    async def expire_shots(self, *, now: datetime) -> list[int]:
        """Unlocked pending or paused shots whose expires_at passed end expired, their
        never-sent deliveries skipped (expired); their ids."""
        ...

    # deliveries ------------------------------------------------------------------------------

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
        """Write the audience once (only its first `first` recipients, if given: the rest is
        `continue_snapshot`'s), reserving its first `reserve` deliveries; None if the lease is
        not ours; an empty audience ends the shot as skipped."""
        ...

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
        """Write the rest of an incomplete audience in chunks (`chunk` rows, or doubling from
        `grow_from` up to `chunk`), telling `written` the rows written so far after each (False:
        stop there); LOST or STOPPED as a reservation."""
        ...

    async def reserve_batch(
        self,
        shot_id: int,
        *,
        worker_id: str,
        now: datetime,
        limit: int,
        rules: ReservationRules = NO_RULES,
    ) -> Reservation:
        """Move up to `limit` pending deliveries, in send order, to sending (skipping those whose
        contact became unreachable, and those the shot's send-time `rules` leave out: converted,
        frequency_cap), fenced by the lease."""
        ...

    async def record_outcomes(
        self,
        outcomes: Sequence[DeliveryOutcome],
        contact_changes: Sequence[ContactChange] = (),
        *,
        now: datetime,
    ) -> None:
        """Write final outcomes, each only over a delivery still `sending`; prune contacts."""
        ...

    # ends ------------------------------------------------------------------------------------

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
        """End the shot as `status` and free it; the counts by delivery status; None if not ours."""
        ...

    async def finish_cancelled(
        self, shot_id: int, *, worker_id: str, now: datetime, unsent: Collection[int] = ()
    ) -> dict[str, int] | None:
        """Close a cancelled shot: every never-sent delivery ends skipped (cancelled)."""
        ...

    async def finish_expired(
        self, shot_id: int, *, worker_id: str, now: datetime, unsent: Collection[int] = ()
    ) -> dict[str, int] | None:
        """End a shot whose expires_at passed: status expired, every never-sent delivery
        skipped (expired); the counts; None if not ours."""
        ...

    async def delivery_counts(self, shot_id: int) -> dict[str, int]:
        """The shot's deliveries by status, as the API counts them."""
        ...

    async def contact_values(
        self, bot_slug: str, telegram_ids: Collection[int], variables: Collection[str]
    ) -> dict[int, ContactValues]:
        """What `variables` read for each of the bot's contacts among `telegram_ids` (a contact
        not found is left out)."""
        ...
