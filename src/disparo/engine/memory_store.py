"""The engine's storage in memory: `ShotStore` over plain objects, for unit tests of the engine.

It keeps the SQL store's rules (the lease fence, writes only over `sending`, the rescue's count
of failed attempts, the send-time rules of a reservation, the wake-ups of the writes that wake),
so the engine runs against it as against a database, with no I/O;
`tests/integration/test_store_contract.py` checks both stores with the same cases. Production
never builds it. A test plays the operator and the database with it: it adds bots, contacts,
conversions and shots, changes a shot as the API would (`set_shot`), reads what was written,
and can make calls fail as with a database away (`down`, `failing`). The rows and the seeding
are `memory_rows`; how shots end, `memory_ends`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import datetime

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
from disparo.db.reservation import NO_RULES, ReservationRules
from disparo.db.secrets import SecretKeyError
from disparo.db.snapshot_chunks import chunk_sizes
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import (
    PIX_EVENTS,
    UNREACHABLE_CHAT_STATES,
    ChatState,
    DeliveryStatus,
    PaymentStatus,
    ShotStatus,
    StopOn,
)
from disparo.engine.memory_ends import MemoryEnds
from disparo.engine.memory_rows import (
    DatabaseAwayError,
    StoredContact,
    StoredDelivery,
    StoredShot,
    audience_of,
)

__all__ = ["DatabaseAwayError", "MemoryShotStore"]


class MemoryShotStore(MemoryEnds):
    """The engine's storage over `MemoryData`'s collections (see the module's docstring)."""

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
        """Pending shots due now (not expired), and the next unlocked one's time."""
        await self._call("due_summary")
        pending = [s for s in self.shots.values() if s.status is ShotStatus.PENDING]
        due = sum(1 for s in pending if s.scheduled_at <= now and not _expired(s, now))
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
        first: int | None = None,
    ) -> Snapshot | None:
        """Write the audience once in send order (its first `first` recipients, if given),
        reserving its first `reserve` deliveries."""
        await self._call("snapshot_audience")
        shot = self.shots.get(shot_id)
        if shot is None or shot.locked_by != worker_id:
            return None
        if shot.audience_total is not None:
            return Snapshot(shot.audience_total, [], shot.audience_complete)
        expired = shot.lease_expires_at is None or shot.lease_expires_at <= now
        if shot.status is not ShotStatus.RUNNING or expired:
            reserve = 0
        audience = audience_of(self.contacts.values(), bot_slug, target, recency_days, now)[:first]
        reserved = []
        for seq, telegram_id in enumerate(audience, 1):
            delivery = StoredDelivery(shot_id, telegram_id, seq)
            if seq <= reserve:
                delivery.status, delivery.updated_at = DeliveryStatus.SENDING, now
                reserved.append(Reserved(telegram_id, seq))
            self.deliveries[shot_id, telegram_id] = delivery
        shot.audience_total, shot.updated_at = len(audience), now
        shot.audience_complete = first is None or len(audience) < first
        if not audience:
            shot.status, shot.finished_at = ShotStatus.SKIPPED, now
            shot.last_error = "the audience is empty: no reachable contact matches the target"
            self._free(shot, now)
        return Snapshot(len(audience), reserved, shot.audience_complete)

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
        """Append the audience members without a delivery yet, `chunk` members read at a time
        (see `db.snapshot_chunks`)."""
        await self._call("continue_snapshot")
        audience = audience_of(self.contacts.values(), bot_slug, target, recency_days, now)
        known = {tid for (sid, tid) in self.deliveries if sid == shot_id}
        next_seq = max((self.deliveries[shot_id, tid].seq for tid in known), default=0) + 1
        parts: list[list[int] | None] = []
        sizes, start = chunk_sizes(grow_from, chunk), 0
        while start < len(audience):
            size = next(sizes)
            parts.append([tid for tid in audience[start : start + size] if tid not in known])
            start += size
        for part in [*parts, None]:  # None: the audience is complete
            if part == []:
                continue  # all of it written before
            shot = self.shots.get(shot_id)
            if shot is None or shot.locked_by != worker_id:
                return ReservationState.LOST, None
            if shot.status is not ShotStatus.RUNNING:
                return ReservationState.STOPPED, shot.status
            if part is None:
                shot.audience_complete = True
                break
            for seq, telegram_id in enumerate(part, next_seq):
                self.deliveries[shot_id, telegram_id] = StoredDelivery(shot_id, telegram_id, seq)
            next_seq += len(part)
            shot.audience_total = (shot.audience_total or 0) + len(part)
            if not written(shot.audience_total):
                break
            await asyncio.sleep(0)  # as a database round trip would, let the sender run
        return ReservationState.OK, ShotStatus.RUNNING

    async def reserve_batch(
        self,
        shot_id: int,
        *,
        worker_id: str,
        now: datetime,
        limit: int,
        rules: ReservationRules = NO_RULES,
    ) -> Reservation:
        """Reserve the next `limit` pending deliveries, skipping unreachable contacts and those
        the `rules` leave out."""
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
            reason = self._skip_reason(shot.bot_slug, delivery.telegram_id, contact, rules)
            if reason is None:
                delivery.status = DeliveryStatus.SENDING
                rows.append(Reserved(delivery.telegram_id, delivery.seq))
            else:
                delivery.status, delivery.reason = DeliveryStatus.SKIPPED, reason
                skipped[reason] += 1
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

    # the rules, shared ---------------------------------------------------------------------

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
            and not _expired(s, now)  # the sweep ends it, unclaimed
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

    def _skip_reason(
        self,
        bot_slug: str,
        telegram_id: int,
        contact: StoredContact | None,
        rules: ReservationRules,
    ) -> str | None:
        """Why a recipient is skipped at reservation (the first reason that holds), or None."""
        if contact is None:
            return Reason.INELIGIBLE.value
        if contact.chat_state in UNREACHABLE_CHAT_STATES:
            return contact.chat_state.value
        stop_on, since = rules.stop_on, rules.converted_since
        if stop_on and since and self._converted(bot_slug, telegram_id, stop_on, since):
            return Reason.CONVERTED.value
        cap_max, cap_since = rules.cap_max, rules.cap_since
        if (
            cap_max is not None
            and cap_since is not None
            and self._sent_since(bot_slug, telegram_id, cap_since) >= cap_max
        ):
            return Reason.FREQUENCY_CAP.value
        return None

    def _converted(self, bot_slug: str, telegram_id: int, stop_on: StopOn, since: datetime) -> bool:
        payments = [
            p for p in self.payments if (p.bot_slug, p.telegram_id) == (bot_slug, telegram_id)
        ]
        if stop_on is StopOn.PAID:
            return any(
                p.status is PaymentStatus.PAID and (p.paid_at or p.created_at) >= since
                for p in payments
            )
        return any(p.created_at >= since for p in payments) or any(
            (e.bot_slug, e.telegram_id) == (bot_slug, telegram_id)
            and e.event in PIX_EVENTS
            and e.occurred_at >= since
            for e in self.events
        )

    def _sent_since(self, bot_slug: str, telegram_id: int, since: datetime) -> int:
        """Deliveries of any shot of the bot sent to the contact at or after `since`."""
        return sum(
            1
            for (shot_id, tid), d in self.deliveries.items()
            if tid == telegram_id
            and d.status is DeliveryStatus.SENT
            and d.sent_at is not None
            and d.sent_at >= since
            and self.shots[shot_id].bot_slug == bot_slug
        )


def _expired(shot: StoredShot, now: datetime) -> bool:
    """True once the shot's expires_at passed (a pending one is then not due)."""
    return shot.expires_at is not None and shot.expires_at <= now
