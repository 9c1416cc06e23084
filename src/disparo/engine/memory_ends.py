"""How shots end in the in-memory store: finished, cancelled, expired, stopped with their bot,
rescued from a dead worker, and the sweeps over shots nobody holds (the rules of `db/finish.py`,
`db/rescue.py` and `db/leases.stop_bot_shots`, over plain objects)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime

from disparo.db.finish import expiry_message
from disparo.db.rescue import MAX_ATTEMPTS, RescuedShot
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import DeliveryStatus, ShotStatus
from disparo.domain.variables import ContactValues
from disparo.engine.memory_rows import MemoryData, StoredShot

_LOCKABLE = (ShotStatus.RUNNING, ShotStatus.PAUSED, ShotStatus.CANCELLED)
_UNFINISHED = (ShotStatus.PENDING, ShotStatus.RUNNING, ShotStatus.PAUSED)
_EXPIRABLE = (ShotStatus.PENDING, ShotStatus.PAUSED)
_PROGRESS = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.ERROR)


class MemoryEnds(MemoryData):
    """The ends of the `ShotStore` protocol, in memory."""

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
        for shot in self.shots.values():
            if shot.status is ShotStatus.CANCELLED and shot.locked_by is None:
                settled += self._skip_never_sent(shot.id, (), Reason.CANCELLED, now)
        return settled

    async def expire_shots(self, *, now: datetime) -> list[int]:
        """Unlocked pending or paused shots past their expires_at end expired, their pending
        deliveries skipped (expired)."""
        await self._call("expire_shots")
        expired = []
        for shot in self.shots.values():
            if (
                shot.status in _EXPIRABLE
                and shot.locked_by is None
                and shot.expires_at is not None
                and shot.expires_at <= now
            ):
                skipped = self._skip_never_sent(shot.id, (), Reason.EXPIRED, now)
                started = shot.audience_total is not None
                shot.status, shot.finished_at, shot.updated_at = ShotStatus.EXPIRED, now, now
                shot.last_error = expiry_message(shot.expires_at, skipped, started=started)
                expired.append(shot.id)
        return expired

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
        self._skip_never_sent(shot_id, unsent, Reason.CANCELLED, now)
        self._mark_sending_unknown(shot_id, now, Reason.UNACCOUNTED)
        self._free(shot, now)
        return self.counts(shot_id)

    async def finish_expired(
        self, shot_id: int, *, worker_id: str, now: datetime, unsent: Collection[int] = ()
    ) -> dict[str, int] | None:
        """End our expired shot: never-sent deliveries end skipped (expired), status expired (a
        cancelled one ends as a cancel)."""
        await self._call("finish_expired")
        shot = self.shots.get(shot_id)
        if shot is None or shot.locked_by != worker_id:
            return None
        cancelled = shot.status is ShotStatus.CANCELLED
        reason = Reason.CANCELLED if cancelled else Reason.EXPIRED
        skipped = self._skip_never_sent(shot_id, unsent, reason, now)
        self._mark_sending_unknown(shot_id, now, Reason.UNACCOUNTED)
        if not cancelled:
            started = shot.audience_total is not None
            shot.status, shot.finished_at = ShotStatus.EXPIRED, now
            shot.last_error = expiry_message(shot.expires_at or now, skipped, started=started)
        self._free(shot, now)
        self._wake_up()
        return self.counts(shot_id)

    async def delivery_counts(self, shot_id: int) -> dict[str, int]:
        """The shot's deliveries by status."""
        await self._call("delivery_counts")
        return self.counts(shot_id)

    async def contact_values(
        self, bot_slug: str, telegram_ids: Collection[int], variables: Collection[str]
    ) -> dict[int, ContactValues]:
        """Each known contact's `values` (every variable, whichever are asked)."""
        await self._call("contact_values")
        found = (self.contacts.get((bot_slug, tid)) for tid in telegram_ids)
        return {c.telegram_id: c.values for c in found if c is not None}

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
