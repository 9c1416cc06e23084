"""The worker loop: claim due shots, run one sender per claimed shot, rescue dead workers' shots.

Each tick: rescue expired leases and settle the cancelled and expired shots nobody holds
(every few seconds), claim due shots while fewer than `max_bots` senders run, then sleep until
a wake-up (NOTIFY on PostgreSQL, a datagram on SQLite, a sender finishing), the next
scheduled shot, or `poll_interval_s` (≤ 1 s), whichever comes first. Stopping (SIGTERM) asks
every sender to stop, waits for their in-flight requests and records, and hands their shots
back for another worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from disparo.db.bots import BotRecord
from disparo.db.engine import Database
from disparo.db.leases import ClaimedShot
from disparo.db.links import LinkSource
from disparo.db.secrets import SecretKeyError
from disparo.domain import pacing
from disparo.domain.quiet_hours import QuietHoursError
from disparo.domain.statuses import ShotStatus
from disparo.domain.tracking import Tracker
from disparo.engine.clock import Clock, SystemClock
from disparo.engine.errors import BotNotRegisteredError
from disparo.engine.finalize import Settler
from disparo.engine.items import BotCaller, Stop
from disparo.engine.job_pool import JobPool
from disparo.engine.lease_keeper import LeaseKeeper
from disparo.engine.limiter import wait_any
from disparo.engine.metrics import EngineMetrics, engine_metrics
from disparo.engine.outage import Outage
from disparo.engine.recorder import OutcomeRecorder
from disparo.engine.send_rules import ShotRules
from disparo.engine.sender import ShotSender
from disparo.engine.snapshotter import SNAPSHOT_CHUNK, SNAPSHOT_FIRST, SnapshotPlan
from disparo.engine.store import ShotStore
from disparo.telegram import MalformedTokenError

log = logging.getLogger("disparo.engine")

MIN_TICK_GAP_S = 0.05  # wake-ups closer together than this share one tick


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How one worker process behaves (services builds it from DISPARO_* settings)."""

    max_bots: int = 50
    lease_s: float = 30.0
    poll_interval_s: float = 1.0
    rescue_interval_s: float = 5.0
    control_interval_s: float = 0.5
    batch_s: float = pacing.BATCH_S
    guard_s: float = pacing.DEFAULT_GUARD_S
    snapshot_first: int = SNAPSHOT_FIRST  # recipients written before a shot's first send
    snapshot_chunk: int = SNAPSHOT_CHUNK  # then up to this many a transaction while it sends
    listen: bool = True  # hear other processes' wake-ups (NOTIFY, SQLite's datagrams)


def new_worker_id() -> str:
    """A worker id unique across machines and restarts: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class BotFactory(Protocol):
    """Hands out a bot's Bot API handle from its token (`disparo.telegram.BotAPI` does)."""

    def bot(self, token: str) -> BotCaller:
        """The handle; MalformedTokenError when `token` does not have a token's shape."""
        ...


class Worker:
    """One worker process's engine: `await worker.run(stop)` until `stop` is set."""

    def __init__(
        self,
        store: ShotStore,
        api: BotFactory,
        *,
        settings: WorkerSettings | None = None,
        clock: Clock | None = None,
        worker_id: str | None = None,
        metrics: EngineMetrics | None = None,
        links: LinkSource | None = None,
        db: Database | None = None,
    ) -> None:
        self.store, self.api, self.links = store, api, links
        self.settings = settings or WorkerSettings()
        self.snapshots = SnapshotPlan(self.settings.snapshot_first, self.settings.snapshot_chunk)
        self.clock = clock or SystemClock()
        self.worker_id = worker_id or new_worker_id()
        self.metrics = metrics or engine_metrics()
        self.recorder = OutcomeRecorder(store, self.clock)
        self.settler = Settler(store, self.recorder, self.clock, self.worker_id, self.metrics)
        self.keeper = LeaseKeeper(
            store,
            self.clock,
            worker_id=self.worker_id,
            lease_s=self.settings.lease_s,
            on_change=self._shot_changed,
            control_interval_s=self.settings.control_interval_s,
        )
        self.guard = pacing.JitterGuard(self.settings.guard_s)  # shared: one path to Telegram
        self.senders: dict[int, ShotSender] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._outage = Outage("claim or rescue shots", self.clock)
        self._next_rescue = 0.0
        self.claims = 0
        # Recall and edit jobs, on the SQL store (the in-memory one of the unit tests has none).
        self.jobs = (
            JobPool(
                db, store, api, clock=self.clock, worker_id=self.worker_id,
                lease_s=self.settings.lease_s, guard=self.guard, links=links, on_end=self._wake,
            )
            if db is not None
            else None
        )  # fmt: skip

    def wake(self) -> None:
        """A shot may have become due, or an owned one changed: look now."""
        self._wake.set()
        self.keeper.wake.set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Worker]:
        """Run in the background (e.g. inside `disparo serve`); leaving stops it cleanly."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop), name="disparo-worker")
        try:
            yield self
        finally:
            stop.set()
            await task

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send until `stop`; then stop every sender cleanly and return."""
        helpers_stop = asyncio.Event()
        async with self.store.wake_ups(self.wake, other_processes=self.settings.listen):
            helpers = [
                asyncio.create_task(self.recorder.run(helpers_stop), name="disparo-recorder"),
                asyncio.create_task(self.keeper.run(helpers_stop), name="disparo-leases"),
            ]
            log.info(
                "[SHOTS][WORKER] started",
                extra={"worker_id": self.worker_id, "max_bots": self.settings.max_bots},
            )
            try:
                while not stop.is_set():
                    ticked = self.clock.monotonic()
                    sleep_s = await self._tick_logged(stop)
                    await wait_any(stop, self._wake, within_s=sleep_s)
                    # A burst of wake-ups (shots ending together) costs one tick per gap.
                    gap_s = ticked + MIN_TICK_GAP_S - self.clock.monotonic()
                    await wait_any(stop, within_s=gap_s)
                    self._wake.clear()
            finally:
                await self._stop_senders()
                if self.jobs is not None:
                    await self.jobs.stop_all()
                helpers_stop.set()
                await asyncio.gather(*helpers, return_exceptions=True)
                log.info("[SHOTS][WORKER] stopped", extra={"worker_id": self.worker_id})

    async def _tick_logged(self, stop: asyncio.Event) -> float:
        try:
            sleep_s = await self.tick(stop)
        except Exception as exc:  # the database is away, most likely: back off, try again
            return max(self.settings.poll_interval_s, self._outage.failed(exc))
        self._outage.succeeded()
        return sleep_s

    async def tick(self, stop: asyncio.Event | None = None) -> float:
        """Rescue, claim what is due; how long to sleep before the next tick."""
        settings, clock = self.settings, self.clock
        if clock.monotonic() >= self._next_rescue:
            self._next_rescue = clock.monotonic() + settings.rescue_interval_s
            await self._rescue()
        now = clock.now()
        due, next_due = await self.store.due_summary(now=now)
        claimed = 0
        while due > claimed and len(self.senders) < settings.max_bots:
            if stop and stop.is_set():
                break
            started, length = self.keeper.expires_at()
            now = clock.now()
            lease_expires_at = now + length
            shots = await self.store.claim_due_shots(
                worker_id=self.worker_id,
                now=now,
                lease_expires_at=lease_expires_at,
                limit=min(due - claimed, settings.max_bots - len(self.senders)),
            )
            if not shots:  # nothing claimable, or a bot contended: one at a time around it
                shot = await self.store.claim_due_shot(
                    worker_id=self.worker_id, now=now, lease_expires_at=lease_expires_at
                )
                if shot is None:
                    break
                shots = [shot]
            claimed += len(shots)
            await self._start_all(shots, started)
        if self.jobs is not None:
            await self.jobs.tick()
        self.metrics.due_shots.set(due - claimed)
        self.metrics.running_shots.set(len(self.senders))
        log.debug(
            "[SHOTS][WORKER][TICK]",
            extra={
                "worker_id": self.worker_id,
                "running": len(self.senders),
                "claimed": claimed,
                "due": due - claimed,
            },
        )
        # Due shots left unclaimed (their bot is busy) wait for the poll or a sender's end.
        if next_due is None:
            return settings.poll_interval_s
        return min(settings.poll_interval_s, (next_due - clock.now()).total_seconds())

    async def _rescue(self) -> None:
        now = self.clock.now()
        rescued_shots = await self.store.rescue_expired(
            now=now, worker_id=self.worker_id, keeping=self.keeper.held
        )
        for rescued in rescued_shots:
            log.warning(
                "[SHOTS][WORKER] rescued a shot whose worker stopped renewing its lease",
                extra={
                    "shot_id": rescued.id,
                    "bot_slug": rescued.bot_slug,
                    "status": rescued.status,
                    "unknown": rescued.unknown,
                },
            )
        settled = await self.store.settle_cancelled(now=now)
        if settled:
            log.info("[SHOTS][WORKER] cancelled deliveries settled", extra={"skipped": settled})
        for shot_id in await self.store.expire_shots(now=now):  # paused, or never claimed
            log.info("[SHOTS][WORKER] shot expired", extra={"shot_id": shot_id})

    async def _start_all(self, shots: list[ClaimedShot], started: float) -> None:
        for shot in shots:
            self.claims += 1
            self.keeper.hold(shot.id, started)
        found: dict[str, BotRecord | SecretKeyError] | None
        try:  # every claimed shot's bot in one read
            found = await self.store.bots({shot.bot_slug for shot in shots})
        except Exception:  # each start reads again (and hands its shot back if it must)
            found = None
        for shot in shots:
            await self._start(shot, found)

    async def _start(
        self, shot: ClaimedShot, found: dict[str, BotRecord | SecretKeyError] | None
    ) -> None:
        now = self.clock.now()
        try:
            if found is None:
                found = await self.store.bots([shot.bot_slug])
            record = found.get(shot.bot_slug)
            if record is None:
                raise BotNotRegisteredError(shot.bot_slug)
            if isinstance(record, SecretKeyError):
                raise record
            bot = self.api.bot(record.token)
            rules = ShotRules.of(shot, record)
            tracker = await self._tracker(shot)
        except QuietHoursError as exc:  # stored by hand: the API refuses such quiet hours
            self.keeper.drop(shot.id)
            message = f"the bot's quiet hours are invalid ({exc}); fix them in its settings"
            await self.store.finish_shot(
                shot.id,
                worker_id=self.worker_id,
                now=now,
                status=ShotStatus.ERROR,
                last_error=message,
            )
            return
        except (SecretKeyError, BotNotRegisteredError) as exc:  # this shot cannot be sent
            self.keeper.drop(shot.id)
            await self.store.finish_shot(
                shot.id,
                worker_id=self.worker_id,
                now=now,
                status=ShotStatus.ERROR,
                last_error=str(exc),
            )
            return
        except MalformedTokenError as exc:  # no shot of the bot can be sent
            self.keeper.drop(shot.id)
            await self.store.stop_bot_shots(
                shot.bot_slug,
                message=f"{exc}; fix the bot's token, then create the shot again",
                now=now,
                worker_id=self.worker_id,
            )
            return
        except Exception:  # the database is away: hand the shot back, try again later
            self.keeper.drop(shot.id)
            log.exception("[SHOTS][WORKER] could not start a shot", extra={"shot_id": shot.id})
            await self.store.release_shot(
                shot.id, worker_id=self.worker_id, now=now, count_attempt=True
            )
            return
        sender = ShotSender(
            self.settler,
            bot,
            shot,
            rate_per_s=pacing.effective_rate(record.rate_per_s, record.paid_broadcast),
            paid_broadcast=record.paid_broadcast,
            lease=self.keeper,
            batch_s=self.settings.batch_s,
            guard=self.guard,
            rules=rules,
            tracker=tracker,
            snapshots=self.snapshots,
        )
        self.senders[shot.id] = sender
        self._tasks[shot.id] = asyncio.create_task(self._run_sender(sender), name=f"shot-{shot.id}")

    async def _tracker(self, shot: ClaimedShot) -> Tracker | None:
        """Its links through the redirect, unless the shot or this installation has it off."""
        links = await self.links.get() if self.links and shot.track_clicks else None
        if links is None:
            return None
        names = [variant.name for variant in shot.variants]
        return links.tracker(shot.id, copy_links=shot.track_copy_links, variants=names)

    async def _run_sender(self, sender: ShotSender) -> None:
        shot_id = sender.shot.id
        try:
            await sender.run()
        except Exception:  # a bug: hand the shot back so a rescue or another worker goes on
            log.exception("[SHOTS][WORKER] sender failed", extra={"shot_id": shot_id})
            try:
                await self.store.release_shot(
                    shot_id,
                    worker_id=self.worker_id,
                    now=self.clock.now(),
                    count_attempt=True,
                )
            except Exception:
                log.exception("[SHOTS][WORKER] release failed", extra={"shot_id": shot_id})
        finally:
            self.keeper.drop(shot_id)
            self.senders.pop(shot_id, None)
            self._tasks.pop(shot_id, None)
            self.metrics.running_shots.set(len(self.senders))
            self._wake.set()  # the bot is free: another of its shots may be due

    def _shot_changed(self, shot_id: int, reason: Stop) -> None:
        sender = self.senders.get(shot_id)
        if sender is not None:
            sender.request_stop(reason)

    async def _stop_senders(self) -> None:
        for sender in list(self.senders.values()):
            sender.request_stop(Stop.SHUTDOWN)
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
