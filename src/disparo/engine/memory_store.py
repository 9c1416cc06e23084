"""The engine's storage in memory: `ShotStore` over plain objects, for unit tests of the engine.

It keeps the SQL store's rules (the lease fence, writes only over `sending`, the rescue's count
of failed attempts, the wake-ups of the writes that wake), so the engine runs against it as
against a database, with no I/O; `tests/integration/test_store_contract.py` checks both stores
with the same cases. Production never builds it. A test plays the operator and the database
with it: it adds bots, contacts and shots, changes a shot as the API would (`set_shot`), reads
what was written, and can make calls fail as with a database away (`down`, `failing`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from disparo.db.audience import AudienceError
from disparo.db.bots import BotRecord
from disparo.db.deliveries import (
    ContactChange,
    DeliveryOutcome,
    Reservation,
    ReservationState,
    Reserved,
    Snapshot,
)
from disparo.db.leases import ClaimedShot
from disparo.db.outcomes import LOST_ERROR
from disparo.db.rescue import MAX_ATTEMPTS, RescuedShot
from disparo.db.secrets import SecretKeyError
from disparo.db.types import JSONValue
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import (
    UNREACHABLE_CHAT_STATES,
    ChatState,
    DeliveryStatus,
    ShotStatus,
    Target,
)

_LOCKABLE = (ShotStatus.RUNNING, ShotStatus.PAUSED, ShotStatus.CANCELLED)
_UNFINISHED = (ShotStatus.PENDING, ShotStatus.RUNNING, ShotStatus.PAUSED)
_PROGRESS = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.ERROR)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DatabaseAwayError(ConnectionRefusedError):
    """The memory store plays a database that cannot be reached (an outage, as the engine
    classifies it)."""


@dataclass
class StoredShot:
    """A `shots_queue` row."""

    id: int
    bot_slug: str
    scheduled_at: datetime
    updated_at: datetime
    target: str = Target.STARTED.value
    recency_days: int | None = None
    copy: str = "<b>Oferta</b> só hoje"
    media_url: str | None = None
    media_type: str = "none"
    buttons: JSONValue = None
    status: ShotStatus = ShotStatus.PENDING
    locked_by: str | None = None
    lease_expires_at: datetime | None = None
    attempt_count: int = 0
    audience_total: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime = _EPOCH
    expires_at: datetime | None = None
    stop_on: str | None = None
    ignore_frequency_cap: bool = False


@dataclass
class StoredDelivery:
    """A `shots_sent` row."""

    shot_id: int
    telegram_id: int
    seq: int
    status: DeliveryStatus = DeliveryStatus.PENDING
    reason: str | None = None
    error: str | None = None
    message_id: int | None = None
    sent_at: datetime | None = None
    attempts: int = 0
    updated_at: datetime | None = None


@dataclass
class StoredContact:
    """A `telegram_contacts` row (what audiences and pruning read)."""

    bot_slug: str
    telegram_id: int
    chat_state: ChatState = ChatState.ACTIVE
    last_interaction_at: datetime | None = None
    has_pix: bool = False
    blocked_at: datetime | None = None


@dataclass
class MemoryShotStore:
    """Bots, contacts, shots and deliveries in dictionaries; every call may first wait
    `latency_s` (as a round trip would), and fails while `down` or when its name is in
    `failing`."""

    latency_s: float = 0.0
    down: bool = False
    failing: set[str] = field(default_factory=set)
    shots: dict[int, StoredShot] = field(default_factory=dict)
    deliveries: dict[tuple[int, int], StoredDelivery] = field(default_factory=dict)
    contacts: dict[tuple[str, int], StoredContact] = field(default_factory=dict)
    bot_records: dict[str, BotRecord | SecretKeyError] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    _wake: list[Callable[[], None]] = field(default_factory=list)

    # what a test writes and reads ----------------------------------------------------------

    def add_bot(
        self, slug: str, token: str, *, rate_per_s: int = 25, paid_broadcast: bool = False
    ) -> None:
        """Register a bot."""
        self.bot_records[slug] = BotRecord(
            slug=slug,
            token=token,
            name=None,
            telegram_bot_id=None,
            telegram_username=None,
            rate_per_s=rate_per_s,
            paid_broadcast=paid_broadcast,
            timezone="UTC",
            webhook_secret="s" * 20,
            polling=False,
            updates_offset=None,
            created_at=_EPOCH,
            updated_at=_EPOCH,
        )

    def add_contacts(
        self,
        slug: str,
        ids: Iterable[int],
        *,
        chat_state: ChatState = ChatState.ACTIVE,
        last_interaction_at: datetime | None = None,
        has_pix: bool = False,
    ) -> None:
        """Contacts of `slug`, all alike."""
        for tid in ids:
            contact = StoredContact(slug, tid, chat_state, last_interaction_at, has_pix)
            self.contacts[slug, tid] = contact

    def add_shot(self, slug: str, *, scheduled_at: datetime, **values: Any) -> int:
        """Queue a shot (other columns as keyword arguments); its id."""
        shot_id = max(self.shots, default=0) + 1
        if "status" in values:
            values["status"] = ShotStatus(values["status"])
        self.shots[shot_id] = StoredShot(shot_id, slug, scheduled_at, scheduled_at, **values)
        return shot_id

    def set_shot(self, shot_id: int, *, wake: bool = True, **values: Any) -> None:
        """Change a shot as the operator's API does (pause, resume, cancel), waking workers."""
        shot = self.shots[shot_id]
        if "status" in values:
            values["status"] = ShotStatus(values["status"])
        for name, value in values.items():
            setattr(shot, name, value)
        if wake:
            self._wake_up()

    def shot_deliveries(self, shot_id: int) -> list[StoredDelivery]:
        """The shot's deliveries in send order."""
        rows = [d for (sid, _), d in self.deliveries.items() if sid == shot_id]
        return sorted(rows, key=lambda d: d.seq)

    def counts(self, shot_id: int) -> dict[str, int]:
        """The shot's deliveries by status."""
        return dict(Counter(d.status.value for d in self.shot_deliveries(shot_id)))

    # ShotStore: wake-ups and claims --------------------------------------------------------

    @asynccontextmanager
    async def wake_ups(
        self, callback: Callable[[], None], *, other_processes: bool
    ) -> AsyncIterator[None]:
        """`callback` runs after each write that wakes workers (there is one process)."""
        self._wake.append(callback)
        try:
            yield
        finally:
            self._wake.remove(callback)

    async def due_summary(self, *, now: datetime) -> tuple[int, datetime | None]:
        """Pending shots due now, and the next unlocked one's time."""
        await self._call("due_summary")
        pending = [s for s in self.shots.values() if s.status is ShotStatus.PENDING]
        due = sum(1 for s in pending if s.scheduled_at <= now)
        later = [s.scheduled_at for s in pending if s.locked_by is None and s.scheduled_at > now]
        return due, min(later, default=None)

    async def claim_due_shots(
        self, *, worker_id: str, now: datetime, lease_expires_at: datetime, limit: int
    ) -> list[ClaimedShot]:
        """The oldest due shot of each free bot, up to `limit`."""
        await self._call("claim_due_shots")
        picked: dict[str, StoredShot] = {}
        for shot in self._candidates(now, ())[: 2 * limit]:
            picked.setdefault(shot.bot_slug, shot)
            if len(picked) == limit:
                break
        claimed = [self._claim(s, worker_id, now, lease_expires_at) for s in picked.values()]
        return sorted(claimed, key=lambda s: (s.scheduled_at, s.id))

    async def claim_due_shot(
        self, *, worker_id: str, now: datetime, lease_expires_at: datetime
    ) -> ClaimedShot | None:
        """The oldest due shot of a free bot."""
        await self._call("claim_due_shot")
        candidates = self._candidates(now, ())
        if not candidates:
            return None
        return self._claim(candidates[0], worker_id, now, lease_expires_at)

    async def bots(self, slugs: Collection[str]) -> dict[str, BotRecord | SecretKeyError]:
        """The registered bots among `slugs`."""
        await self._call("bots")
        return {slug: self.bot_records[slug] for slug in slugs if slug in self.bot_records}

    # ShotStore: leases ---------------------------------------------------------------------

    async def renew_leases(
        self, *, worker_id: str, shot_ids: Collection[int], lease_expires_at: datetime
    ) -> dict[int, ShotStatus]:
        """Extend the leases `worker_id` holds (updated_at untouched, as in SQL)."""
        await self._call("renew_leases")
        renewed = {}
        for shot in self._owned_among(shot_ids, worker_id):
            shot.lease_expires_at = lease_expires_at
            renewed[shot.id] = shot.status
        return renewed

    async def shot_states(
        self, shot_ids: Collection[int]
    ) -> dict[int, tuple[ShotStatus, str | None]]:
        """`(status, locked_by)` of each shot."""
        await self._call("shot_states")
        shots = (self.shots[i] for i in shot_ids if i in self.shots)
        return {s.id: (s.status, s.locked_by) for s in shots}

    async def release_shot(
        self,
        shot_id: int,
        *,
        worker_id: str,
        now: datetime,
        unsent: Collection[int] = (),
        count_attempt: bool = False,
    ) -> bool:
        """Hand the shot back if ours; `unsent` back to pending."""
        await self._call("release_shot")
        shot = self.shots.get(shot_id)
        if shot is None or shot.locked_by != worker_id:
            return False
        if shot.status is ShotStatus.RUNNING:
            shot.status = ShotStatus.PENDING
        if not count_attempt:
            shot.attempt_count = max(0, shot.attempt_count - 1)
        self._free(shot, now)
        self._return_unsent(shot_id, unsent, now)
        self._wake_up()
        return True

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
        """End the bot's unfinished shots (unlocked, or ours) in error."""
        await self._call("stop_bot_shots")
        if shot_id is not None:
            self._return_unsent(shot_id, unsent, now)
        stopped = []
        for shot in self.shots.values():
            mine = shot.locked_by in (None, worker_id)
            if shot.bot_slug == bot_slug and shot.status in _UNFINISHED and mine:
                shot.status, shot.last_error, shot.finished_at = ShotStatus.ERROR, message, now
                self._free(shot, now)
                stopped.append(shot.id)
        return stopped

    async def rescue_expired(
        self, *, now: datetime, worker_id: str | None = None, keeping: Collection[int] = ()
    ) -> list[RescuedShot]:
        """Free expired leases; reserved deliveries become unknown (worker_lost)."""
        await self._call("rescue_expired")
        expired = [
            s
            for s in self.shots.values()
            if s.status in _LOCKABLE
            and s.locked_by is not None
            and s.lease_expires_at is not None
            and s.lease_expires_at < now
            and not (worker_id is not None and s.locked_by == worker_id and s.id in keeping)
        ]
        rescued = []
        for shot in expired:
            if shot.status is ShotStatus.RUNNING:
                shot.attempt_count = self._failed_attempts(shot)
                shot.status = ShotStatus.PENDING
                if shot.attempt_count >= MAX_ATTEMPTS:
                    shot.status, shot.finished_at = ShotStatus.ERROR, now
                    shot.last_error = (
                        f"the workers sending this shot stopped {shot.attempt_count} times "
                        "without recording any outcome (crash or lost database connection); "
                        "check the workers' logs, then create the shot again for the "
                        "deliveries left"
                    )
            self._free(shot, now)
            unknown = self._mark_sending_unknown(shot.id, now, Reason.WORKER_LOST)
            rescued.append(RescuedShot(shot.id, shot.bot_slug, shot.status, unknown))
        if expired:
            self._wake_up()
        return rescued

    async def settle_cancelled(self, *, now: datetime) -> int:
        """Pending deliveries of cancelled, unlocked shots end skipped (cancelled)."""
        await self._call("settle_cancelled")
        settled = 0
        for delivery in self.deliveries.values():
            shot = self.shots[delivery.shot_id]
            cancelled = shot.status is ShotStatus.CANCELLED and shot.locked_by is None
            if cancelled and delivery.status is DeliveryStatus.PENDING:
                self._skip_cancelled(delivery, now)
                settled += 1
        return settled

    # ShotStore: deliveries -----------------------------------------------------------------

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
    ) -> Snapshot | None:
        """Write the audience once in send order, reserving its first `reserve` deliveries."""
        await self._call("snapshot_audience")
        shot = self.shots.get(shot_id)
        if shot is None or shot.locked_by != worker_id:
            return None
        if shot.audience_total is not None:
            return Snapshot(shot.audience_total, [])
        expired = shot.lease_expires_at is None or shot.lease_expires_at <= now
        if shot.status is not ShotStatus.RUNNING or expired:
            reserve = 0
        audience = self._audience(bot_slug, target, recency_days, now)
        reserved = []
        for seq, telegram_id in enumerate(audience, 1):
            delivery = StoredDelivery(shot_id, telegram_id, seq)
            if seq <= reserve:
                delivery.status, delivery.updated_at = DeliveryStatus.SENDING, now
                reserved.append(Reserved(telegram_id, seq))
            self.deliveries[shot_id, telegram_id] = delivery
        shot.audience_total, shot.updated_at = len(audience), now
        if not audience:
            shot.status, shot.finished_at = ShotStatus.SKIPPED, now
            shot.last_error = "the audience is empty: no reachable contact matches the target"
            self._free(shot, now)
        return Snapshot(len(audience), reserved)

    async def reserve_batch(
        self, shot_id: int, *, worker_id: str, now: datetime, limit: int
    ) -> Reservation:
        """Reserve the next `limit` pending deliveries, skipping unreachable contacts."""
        await self._call("reserve_batch")
        shot = self.shots.get(shot_id)
        if (
            shot is None
            or shot.locked_by != worker_id
            or shot.lease_expires_at is None
            or shot.lease_expires_at <= now
        ):
            return Reservation(ReservationState.LOST, [], {})
        if shot.status is not ShotStatus.RUNNING:
            return Reservation(ReservationState.STOPPED, [], {}, shot.status)
        pending = [d for d in self.shot_deliveries(shot_id) if d.status is DeliveryStatus.PENDING]
        rows: list[Reserved] = []
        skipped: Counter[str] = Counter()
        for delivery in pending[:limit]:
            contact = self.contacts.get((shot.bot_slug, delivery.telegram_id))
            delivery.updated_at = now
            if contact is not None and contact.chat_state not in UNREACHABLE_CHAT_STATES:
                delivery.status = DeliveryStatus.SENDING
                rows.append(Reserved(delivery.telegram_id, delivery.seq))
            else:
                delivery.status = DeliveryStatus.SKIPPED
                delivery.reason = contact.chat_state.value if contact else Reason.INELIGIBLE.value
                skipped[delivery.reason] += 1
        return Reservation(ReservationState.OK, rows, dict(skipped), shot.status)

    async def record_outcomes(
        self,
        outcomes: Sequence[DeliveryOutcome],
        contact_changes: Sequence[ContactChange] = (),
        *,
        now: datetime,
    ) -> None:
        """Write each outcome over a delivery still sending; prune the contacts."""
        await self._call("record_outcomes")
        for outcome in outcomes:
            delivery = self.deliveries.get((outcome.shot_id, outcome.telegram_id))
            if delivery is None or delivery.status is not DeliveryStatus.SENDING:
                continue
            delivery.status = DeliveryStatus(outcome.status)
            delivery.reason, delivery.error = outcome.reason, outcome.error
            delivery.message_id, delivery.sent_at = outcome.message_id, outcome.sent_at
            delivery.attempts, delivery.updated_at = outcome.attempts, now
        for change in contact_changes:
            contact = self.contacts.get((change.bot_slug, change.telegram_id))
            if contact is not None and contact.chat_state != change.chat_state:
                contact.chat_state, contact.blocked_at = ChatState(change.chat_state), now

    # ShotStore: ends -----------------------------------------------------------------------

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
        """End our shot as `status` (a cancelled one stays cancelled); the counts."""
        await self._call("finish_shot")
        shot = self.shots.get(shot_id)
        if shot is None or shot.locked_by != worker_id:
            return None
        self._return_unsent(shot_id, unsent, now)
        self._mark_sending_unknown(shot_id, now, Reason.UNACCOUNTED)
        counts = self.counts(shot_id)
        errors = counts.get(DeliveryStatus.ERROR.value, 0)
        if last_error is None and errors:
            failed = Counter(
                d.error for d in self.shot_deliveries(shot_id) if d.status is DeliveryStatus.ERROR
            )
            error, n = failed.most_common(1)[0]
            last_error = f"{errors} deliveries failed; most often: {error} ({n})"
        if shot.status is not ShotStatus.CANCELLED:
            shot.status = status
        shot.last_error, shot.finished_at = last_error, now
        self._free(shot, now)
        self._wake_up()
        return counts

    async def finish_cancelled(
        self, shot_id: int, *, worker_id: str, now: datetime, unsent: Collection[int] = ()
    ) -> dict[str, int] | None:
        """Close our cancelled shot: never-sent deliveries end skipped (cancelled)."""
        await self._call("finish_cancelled")
        shot = self.shots.get(shot_id)
        if shot is None or shot.locked_by != worker_id:
            return None
        for delivery in self.shot_deliveries(shot_id):
            reserved = delivery.status is DeliveryStatus.SENDING
            if delivery.status is DeliveryStatus.PENDING or (
                reserved and delivery.telegram_id in unsent
            ):
                self._skip_cancelled(delivery, now)
        self._mark_sending_unknown(shot_id, now, Reason.UNACCOUNTED)
        self._free(shot, now)
        return self.counts(shot_id)

    async def delivery_counts(self, shot_id: int) -> dict[str, int]:
        """The shot's deliveries by status."""
        await self._call("delivery_counts")
        return self.counts(shot_id)

    # the rules, shared ---------------------------------------------------------------------

    async def _call(self, name: str) -> None:
        self.calls[name] += 1
        await asyncio.sleep(self.latency_s)
        if self.down or name in self.failing:
            raise DatabaseAwayError(f"{name}: the database is away")

    def _wake_up(self) -> None:
        for callback in list(self._wake):
            callback()

    def _candidates(self, now: datetime, skip: Collection[str]) -> list[StoredShot]:
        busy = {
            s.bot_slug
            for s in self.shots.values()
            if s.status is ShotStatus.RUNNING or s.locked_by is not None
        }
        due = [
            s
            for s in self.shots.values()
            if s.status is ShotStatus.PENDING
            and s.scheduled_at <= now
            and s.locked_by is None
            and s.bot_slug not in busy
            and s.bot_slug not in skip
        ]
        return sorted(due, key=lambda s: (s.scheduled_at, s.id))

    def _claim(
        self, shot: StoredShot, worker_id: str, now: datetime, lease_expires_at: datetime
    ) -> ClaimedShot:
        shot.status, shot.locked_by = ShotStatus.RUNNING, worker_id
        shot.lease_expires_at, shot.attempt_count = lease_expires_at, shot.attempt_count + 1
        shot.started_at = shot.started_at or now
        shot.updated_at = now
        names = {f.name for f in fields(StoredShot)} & set(ClaimedShot.__slots__)
        return ClaimedShot(**{name: getattr(shot, name) for name in names})

    def _owned_among(self, shot_ids: Collection[int], worker_id: str) -> list[StoredShot]:
        shots = (self.shots.get(i) for i in shot_ids)
        return [s for s in shots if s is not None and s.locked_by == worker_id]

    def _free(self, shot: StoredShot, now: datetime) -> None:
        shot.locked_by, shot.lease_expires_at, shot.updated_at = None, None, now

    def _return_unsent(self, shot_id: int, unsent: Collection[int], now: datetime) -> None:
        for telegram_id in unsent:
            delivery = self.deliveries.get((shot_id, telegram_id))
            if delivery is not None and delivery.status is DeliveryStatus.SENDING:
                delivery.status, delivery.updated_at = DeliveryStatus.PENDING, now

    def _mark_sending_unknown(self, shot_id: int, now: datetime, reason: Reason) -> int:
        marked = 0
        for delivery in self.shot_deliveries(shot_id):
            if delivery.status is DeliveryStatus.SENDING:
                delivery.status, delivery.reason = DeliveryStatus.UNKNOWN, reason.value
                delivery.error, delivery.updated_at = LOST_ERROR, now
                marked += 1
        return marked

    def _skip_cancelled(self, delivery: StoredDelivery, now: datetime) -> None:
        delivery.status, delivery.reason = DeliveryStatus.SKIPPED, Reason.CANCELLED.value
        delivery.updated_at = now

    def _failed_attempts(self, shot: StoredShot) -> int:
        deliveries = self.shot_deliveries(shot.id)
        if any(
            d.status in _PROGRESS and d.updated_at is not None and d.updated_at >= shot.updated_at
            for d in deliveries
        ):
            return 0  # it recorded outcomes: the shot is not what kills its workers
        reserved = any(d.status is DeliveryStatus.SENDING for d in deliveries)
        if shot.audience_total is not None and not reserved:
            return max(0, shot.attempt_count - 1)  # it died before sending anything
        return shot.attempt_count

    def _audience(
        self, bot_slug: str, target: str, recency_days: int | None, now: datetime
    ) -> list[int]:
        try:
            parsed = Target(target)
        except ValueError:
            raise AudienceError(f"target '{target}' is unknown") from None
        if recency_days is not None and recency_days < 1:
            raise AudienceError(f"recency_days must be at least 1 (or absent), not {recency_days}")
        since = None if recency_days is None else now - timedelta(days=recency_days)
        dated: list[tuple[datetime, int]] = []
        undated: list[int] = []
        for c in self.contacts.values():
            if c.bot_slug != bot_slug or c.chat_state in UNREACHABLE_CHAT_STATES:
                continue
            if parsed is Target.PIX_CREATED and not c.has_pix:
                continue
            if c.last_interaction_at is None:
                if since is None:
                    undated.append(c.telegram_id)
            elif since is None or c.last_interaction_at >= since:
                dated.append((c.last_interaction_at, c.telegram_id))
        # Hot leads first: latest interaction first, ties by telegram_id, never-interacted last.
        dated.sort(key=lambda member: (-member[0].timestamp(), member[1]))
        return [tid for _, tid in dated] + sorted(undated)
