"""Sends one claimed shot: snapshot, reserve ahead, pace, send, classify, record, then finish.

One `ShotSender` per owned shot (so per bot). Its loop takes the next reserved delivery, waits
for an in-flight slot and the bot's limiter, checks the lease, and starts the request; answers
are classified by `domain.outcomes` and recorded in batches. Reservations run ahead of the
sends (`reserver`) and wait for the shot's send-time rules (`send_rules`). Whatever stops the
loop (done, pause, cancel, expiry, lost lease, SIGTERM, a content error, a revoked token), the
in-flight requests finish and are recorded before the shot is settled (`finalize`).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from typing import Any

from disparo.db.leases import ClaimedShot
from disparo.domain import outcomes, pacing
from disparo.domain.outcomes import Action, ErrorStreak, Failure, FailureKind, Reason, Verdict
from disparo.domain.personal import Personalizer, ShotContents, TooLongError
from disparo.domain.sending import ShotContentError, Step
from disparo.domain.statuses import DeliveryStatus
from disparo.domain.tracking import Tracker
from disparo.domain.variables import ContactValues, VariableError
from disparo.engine.finalize import Ending, Settler, finalize
from disparo.engine.items import BotCaller, Item, LeaseView, Stop, failure_of, outcome_of
from disparo.engine.limiter import BotLimiter, wait_any
from disparo.engine.progress import Progress
from disparo.engine.reserver import Reserver
from disparo.engine.send_rules import ShotRules
from disparo.engine.snapshotter import SnapshotPlan, Snapshotter

log = logging.getLogger("disparo.engine")

INITIAL_LATENCY_S = 0.25  # until answers tell, size the in-flight window for a slow server
LATENCY_WEIGHT = 0.1


class ShotSender:
    """Delivers one shot for this worker until it is done or told to stop."""

    def __init__(
        self,
        settler: Settler,
        bot: BotCaller,
        shot: ClaimedShot,
        *,
        rate_per_s: float,
        paid_broadcast: bool,
        lease: LeaseView,
        batch_s: float = pacing.BATCH_S,
        guard: pacing.JitterGuard | None = None,
        rules: ShotRules | None = None,
        tracker: Tracker | None = None,
        snapshots: SnapshotPlan | None = None,
    ) -> None:
        self.settler, self.bot, self.shot = settler, bot, shot
        self.store, self.recorder = settler.store, settler.recorder
        self.clock, self.worker_id, self.metrics = settler.clock, settler.worker_id, settler.metrics
        self.paid_broadcast, self.lease, self.tracker = paid_broadcast, lease, tracker
        self.limiter = BotLimiter(rate_per_s, self.clock, guard=guard)
        self.batch_size = pacing.batch_size(rate_per_s, batch_s)
        self.stop_reason = Stop.DONE
        self.stop_message: str | None = None
        self.progress = Progress(shot, self.metrics)
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()
        self.reserver = Reserver(
            settler,
            shot,
            rules=rules or ShotRules.of(shot),
            batch_size=self.batch_size,
            progress=self.progress,
            stop=self._stop,
            changed=self._changed,
            request_stop=self.request_stop,
        )
        self._queue = self.reserver.queue
        plan = snapshots or SnapshotPlan()
        self.snapshotter = Snapshotter(settler, shot, self.reserver, self.progress, plan)
        self._retries: list[Item] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._latency_s = INITIAL_LATENCY_S
        self._server_streak = 0
        self._streak = ErrorStreak()
        self._steps: tuple[Step, ...] = ()  # what every recipient gets (no variables)
        self._contents: ShotContents | None = None  # or what builds each recipient's
        self._requests = self.metrics.requests.labels(shot.bot_slug)
        self._in_flight_gauge = self.metrics.in_flight.labels(shot.bot_slug)

    # control ---------------------------------------------------------------------------------

    def request_stop(self, reason: Stop, message: str | None = None) -> None:
        """Stop reserving and sending; in-flight requests finish. The strongest reason wins."""
        if not self._stop.is_set() or reason > self.stop_reason:
            self.stop_reason, self.stop_message = reason, message
        self._stop.set()
        self._changed.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was asked."""
        return self._stop.is_set()

    # the loop --------------------------------------------------------------------------------

    async def run(self) -> Stop:
        """Send the shot; settle it according to why the loop ended; the reason."""
        shot = self.shot
        try:
            contents = ShotContents.build(
                copy=shot.copy,
                media_type=shot.media_type,
                media_url=shot.media_url,
                buttons=shot.buttons,
                variants=shot.variants,
                paid_broadcast=self.paid_broadcast,
                templated=shot.templated,
                timezone=self.reserver.gate.rules.timezone,
            )
            self.tracker = self.tracker and self.tracker.needed(contents.sample())
        except (ShotContentError, VariableError, TooLongError) as exc:
            self.request_stop(Stop.SHOT_ERROR, str(exc))
            return await self._settle([])
        if contents.per_recipient or self.tracker:
            self._contents = contents  # each recipient's calls: its variant's, its values, links
        else:
            assert not isinstance(contents.own, Personalizer)
            self._steps = contents.own
        self.reserver.variables = contents.variables
        total, reserved, complete = shot.audience_total, [], shot.audience_complete
        if total is None:
            if not await self.reserver.cleared():  # quiet hours waited out; expired: stop
                return await self._settle([])
            # The first batch is reserved with the audience, unless rules screen the
            # recipients or their values must be read: reservations do both.
            screened = self.reserver.gate.rules.screens or self.reserver.variables
            snapshot = await self.snapshotter.start(reserve=0 if screened else self.batch_size)
            if snapshot is None:
                self.request_stop(Stop.LOST)
                return await self._settle([])
            if snapshot.total == 0:
                return Stop.DONE  # the snapshot ended the shot as `skipped`
            total, reserved, complete = snapshot.total, snapshot.reserved, snapshot.complete
        self.progress.started(total)
        if reserved:
            self.reserver.accept(reserved, {})
        if not complete:
            self.snapshotter.continue_in_background()
        await self._send_all()
        await self.snapshotter.drain()
        return await self._settle(self._unsent())

    async def _settle(self, unsent: list[Item]) -> Stop:
        """Record the half-sent deliveries, then let `finalize` settle the shot."""
        reason = self.stop_reason
        for item in unsent:
            if item.step > 0:  # the audio went, the copy did not: never resend the audio
                self._record_unsendable(
                    item, f"the shot stopped ({reason.name.lower()}) before the copy was sent"
                )
        ending = Ending(
            shot=self.shot,
            reason=reason,
            message=self.stop_message,
            unsent=[item.telegram_id for item in unsent if item.step == 0],
            total=self.progress.total,
            counts=self.progress.counts,
            paused_s=self.limiter.paused_total_s,
        )
        return await finalize(self.settler, ending)

    async def _send_all(self) -> None:
        self.limiter.starting()
        while not self._stop.is_set():
            item = await self._next_item()
            if item is None:
                break
            if self._contents is not None and item.steps is None and not self._render(item):
                continue
            if not await self._in_flight_slot() or (probe := await self._acquire()) is None:
                self._requeue(item)
                break
            if not self.lease.valid(self.shot.id):
                self._requeue(item)
                self.request_stop(Stop.LOST)
                break
            # Counted in flight now, not when the task first runs: otherwise `_next_item` could
            # see nothing left and end the loop while this request may still need a retry.
            self._in_flight += 1
            task = asyncio.create_task(self._deliver(item, probe))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.reserver.drain()

    async def _acquire(self) -> bool | None:
        return await self.limiter.acquire(self._stop)

    async def _in_flight_slot(self) -> bool:
        limit = pacing.in_flight_limit(self.limiter.rate_per_s, self._latency_s)
        while self._in_flight >= limit:
            if self._stop.is_set():
                return False
            self._changed.clear()
            await wait_any(self._stop, self._changed, within_s=None)
        return not self._stop.is_set()

    async def _next_item(self) -> Item | None:
        while not self._stop.is_set():
            now = self.clock.monotonic()
            if self._retries and self._retries[0].not_before <= now:
                return heapq.heappop(self._retries)
            self.reserver.maybe_reserve()
            if self._queue:
                return self._queue.popleft()
            if (
                self.reserver.exhausted
                and not self._retries
                and self._in_flight == 0
                and not self.reserver.busy
            ):
                return None  # every delivery has its outcome
            self._changed.clear()
            due = self._retries[0].not_before - now if self._retries else None
            await wait_any(self._stop, self._changed, within_s=due)
        return None

    def _requeue(self, item: Item) -> None:
        heapq.heappush(self._retries, item)

    def _unsent(self) -> list[Item]:
        return [*self._queue, *self._retries]

    # one request -----------------------------------------------------------------------------

    def _render(self, item: Item) -> bool:
        """Give the item its variant's calls, or build its own from its values; False (its
        outcome recorded) when its copy passes Telegram's limit or its content cannot be sent."""
        assert self._contents is not None
        try:
            steps = self._contents.steps_for(item.variant, item.values or ContactValues())
        except (TooLongError, ShotContentError) as exc:
            reason = Reason.TOO_LONG if isinstance(exc, TooLongError) else Reason.CONTENT
            verdict = Verdict(Action.RECORD, DeliveryStatus.ERROR, reason, str(exc))
            self._record(item, DeliveryStatus.ERROR, verdict=verdict)
            return False
        tracker = self.tracker
        item.steps = tracker.apply(steps, item.telegram_id, item.variant) if tracker else steps
        return True

    async def _deliver(self, item: Item, probe: bool) -> None:
        step = (item.steps or self._steps)[item.step]
        item.requests += 1
        self._in_flight_gauge.inc()
        self._requests.inc()
        started = self.clock.monotonic()
        written_at: float | None = None

        def went() -> None:
            # The window counts when the request really leaves: after any wait for a new
            # connection, which is long while a busy start-up opens a hundred of them.
            nonlocal written_at
            written_at = self.limiter.went()

        try:
            message: Any = await self.bot.call(
                step.method, {**step.params, "chat_id": item.telegram_id}, on_write=went
            )
            message_id = int(message["message_id"])
        except Exception as exc:
            if written_at is None:
                self.limiter.went()  # never written: free the granted slot (counted as now)
            self._answered(started)
            self._failed(item, probe, failure_of(exc))
        else:
            if written_at is not None:
                self.limiter.arrived(written_at)
            self._answered(started)
            self._succeeded(item, probe, message_id)

    def _answered(self, started: float) -> None:
        self._in_flight -= 1
        self._in_flight_gauge.dec()
        latency = self.clock.monotonic() - started
        self._latency_s += LATENCY_WEIGHT * (latency - self._latency_s)
        self._changed.set()

    def _succeeded(self, item: Item, probe: bool, message_id: int) -> None:
        self.limiter.answered(probe=probe, refused=False)
        self._server_streak = 0
        if item.step + 1 < len(item.steps or self._steps):  # the audio went; the copy goes next
            item.step += 1
            item.delivered_message_id = message_id
            item.not_before = 0.0
            heapq.heappush(self._retries, item)
            return
        self._record(
            item,
            DeliveryStatus.SENT,
            message_id=message_id,
            sent_at=True,
        )

    def _failed(self, item: Item, probe: bool, failure: Failure) -> None:
        transient = failure.kind is FailureKind.NOT_DELIVERED or failure.error_code >= 500
        verdict = outcomes.classify(
            failure,
            tries=item.transient + 1 if transient else 1,
            rate_limited_tries=item.rate_limited,
        )
        action = verdict.action
        if action is Action.PAUSE_BOT:
            self._rate_limited(item, probe, verdict)
            return
        if action is Action.RETRY:
            item.transient += 1
            self._server_streak += 1
            pause_s = pacing.server_error_pause_s(self._server_streak)
            if pause_s:
                self.limiter.pause(pause_s)
            # A 5xx or no connection says nothing of the rate limit: a probe stays a probe.
            self.limiter.answered(probe=probe, refused=True)
            item.not_before = self.clock.monotonic() + pacing.backoff_s(
                item.transient, random.random()
            )
            heapq.heappush(self._retries, item)
            return
        # No answer at all (timeout, dropped connection) tells nothing of the rate limit either.
        self.limiter.answered(probe=probe, refused=failure.kind is FailureKind.MAYBE_DELIVERED)
        self._server_streak = 0
        assert verdict.outcome is not None
        self._record(item, verdict.outcome, verdict=verdict)
        if action is Action.STOP_SHOT:
            self.request_stop(Stop.SHOT_ERROR, outcomes.shot_error_message(failure.description))
        elif action is Action.STOP_BOT:
            self.request_stop(Stop.BOT_REVOKED, outcomes.REVOKED_BOT_MESSAGE)

    def _rate_limited(self, item: Item, probe: bool, verdict: Verdict) -> None:
        retry_after_s = verdict.retry_after_s or 1.0
        self.metrics.rate_limited.labels(self.shot.bot_slug).inc()
        self.limiter.rate_limited(retry_after_s)
        self.limiter.answered(probe=probe, refused=True)
        item.rate_limited += 1
        item.not_before = 0.0
        heapq.heappush(self._retries, item)
        log.warning(
            "[SHOTS][WORKER] rate limited; bot paused",
            extra={
                "shot_id": self.shot.id,
                "bot_slug": self.shot.bot_slug,
                "retry_after_s": retry_after_s,
                "probe": probe,
                "guard_ms": round(self.limiter.guard_s * 1000),
            },
        )

    # outcomes --------------------------------------------------------------------------------

    def _record(
        self,
        item: Item,
        status: DeliveryStatus,
        *,
        verdict: Verdict | None = None,
        message_id: int | None = None,
        sent_at: bool = False,
    ) -> None:
        outcome, change = outcome_of(
            self.shot, item, status, verdict, message_id, self.clock.now() if sent_at else None
        )
        self.recorder.add(outcome, change)
        self.progress.outcome(item.batch, status.value)
        plain = status is DeliveryStatus.ERROR and verdict is not None and verdict.reason is None
        plain_error = outcome.error if plain else None
        if self._streak.observe(plain_error) and plain_error is not None:
            self.request_stop(
                Stop.SHOT_ERROR,
                f"{self._streak.limit} deliveries in a row failed with the same error: "
                f"{plain_error}; the shot was stopped so the rest of its audience does not fail "
                "the same way",
            )

    def _record_unsendable(self, item: Item, error: str) -> None:
        """A delivery half done when the shot stopped (the audio went, not the copy)."""
        verdict = Verdict(Action.RECORD, DeliveryStatus.ERROR, None, error)
        self._record(item, DeliveryStatus.ERROR, verdict=verdict)
