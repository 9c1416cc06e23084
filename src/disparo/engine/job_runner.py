"""Runs one recall or edit job: its items in batches, each batch's requests paced by the bot's
limiter (the same as a shot's), their outcomes recorded in one write.

Between batches the runner renews its lease and reads the job's status: a pause or a cancel
stops it (in-flight requests finish and are recorded); a lost lease stops it at once. A request
that may have reached Telegram without an answer is recorded unknown and never repeated.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from disparo.db import job_items as item_queries
from disparo.db import jobs as store
from disparo.db.contact_values import contact_values
from disparo.db.engine import Database
from disparo.db.job_items import ItemResult, JobItem
from disparo.db.jobs import ClaimedJob
from disparo.domain import pacing
from disparo.domain.jobs import (
    ItemStatus,
    JobKind,
    JobStatus,
    Outcome,
    edit_step,
    recall_steps,
    verdict,
)
from disparo.domain.outcomes import Action
from disparo.domain.personal import ShotContents
from disparo.domain.sending import Step
from disparo.domain.tracking import Tracker
from disparo.domain.variables import ContactValues
from disparo.engine.clock import Clock
from disparo.engine.items import BotCaller, failure_of
from disparo.engine.limiter import BotLimiter

log = logging.getLogger("disparo.engine.jobs")

MAX_TRIES = 3  # a 5xx or a refused connection: this many tries, then error
RETRY_PAUSE_S = 0.5


class JobRunner:
    """Does one claimed job for this worker until it is done, paused, cancelled or lost."""

    def __init__(
        self,
        db: Database,
        bot: BotCaller,
        job: ClaimedJob,
        *,
        clock: Clock,
        worker_id: str,
        rate_per_s: float,
        lease_s: float,
        timezone: str,
        tracker: Tracker | None = None,
        guard: pacing.JitterGuard | None = None,
    ) -> None:
        self.db, self.bot, self.job, self.clock = db, bot, job, clock
        self.worker_id, self.lease_s, self.timezone = worker_id, lease_s, timezone
        self.limiter = BotLimiter(rate_per_s, clock, guard=guard)
        self.batch_size = max(1, min(1000, int(rate_per_s)))
        self.tracker = tracker
        self._stop = asyncio.Event()
        self._contents: ShotContents | None = None
        self.error: str | None = None

    def stop(self) -> None:
        """Stop after the requests in flight (a shutdown)."""
        self._stop.set()

    async def run(self) -> str:
        """Do the job; its status once this run ends."""
        job = self.job
        if job.kind is JobKind.EDIT:  # the shot's content, which the edit has become
            self._contents = ShotContents.build(
                copy=job.shot_copy,
                media_type=job.media_type,
                media_url=job.media_url,
                buttons=job.shot_buttons,
                variants=job.variants,
                paid_broadcast=False,
                templated=job.templated,
                timezone=self.timezone,
            )
        try:
            while not self._stop.is_set():
                status = await store.job_state(self.db, job.id, self.worker_id)
                if status != JobStatus.RUNNING.value:
                    break
                now = self.clock.now()
                until = now + timedelta(seconds=self.lease_s)
                if not await store.renew_lease(self.db, job.id, self.worker_id, until):
                    break
                batch = await item_queries.reserve_items(
                    self.db, job.id, job.kind, limit=self.batch_size, now=now
                )
                if not batch:
                    if await self._nothing_pending():
                        break
                    continue
                await self._batch(batch)
                if self.error:
                    break
        finally:
            final = await store.settle_job(
                self.db, job.id, worker_id=self.worker_id, now=self.clock.now(),
                last_error=self.error,
            )  # fmt: skip
        log.info("job ended", extra={"job_id": job.id, "status": final})
        return final

    async def _nothing_pending(self) -> bool:
        async with self.db.read() as conn:
            counts = await item_queries.item_counts(conn, self.job.id)
        return not counts["by_status"].get(ItemStatus.PENDING.value)

    async def _batch(self, items: list[JobItem]) -> None:
        values = await self._values(items)
        results: list[ItemResult] = []
        unsent: list[int] = []

        async def one(item: JobItem) -> None:
            result = await self._do(item, values.get(item.telegram_id, ContactValues()))
            if result is None:
                unsent.append(item.telegram_id)
            else:
                results.append(result)

        await asyncio.gather(*(one(item) for item in items))
        now = self.clock.now()
        await item_queries.record_items(self.db, self.job.id, results, now=now)
        await item_queries.return_items(self.db, self.job.id, unsent, now=now)

    async def _values(self, items: list[JobItem]) -> dict[int, ContactValues]:
        if self._contents is None or not self._contents.variables:
            return {}
        async with self.db.read() as conn:
            return await contact_values(
                conn, self.job.bot_slug, [item.telegram_id for item in items],
                self._contents.variables,
            )  # fmt: skip

    def _steps(self, item: JobItem, values: ContactValues) -> tuple[Step, ...]:
        if self._contents is None:
            return recall_steps(item.message_id, item.audio_message_id)
        steps = self._contents.steps_for(item.variant, values)
        if self.tracker is not None:
            steps = self.tracker.apply(steps, item.telegram_id, item.variant)
        carrier = next(step for step in steps if step.carries_copy)
        edit = edit_step(
            item.message_id, self.job.media_type, carrier, copy=self.job.copy is not None
        )
        return (edit,)

    async def _do(self, item: JobItem, values: ContactValues) -> ItemResult | None:
        """One recipient's calls; its result, or None when it was never requested (a stop).
        A recall goes on to an audio shot's audio when the copy's message is already gone."""
        tid = item.telegram_id
        try:
            steps = self._steps(item, values)
        except Exception as exc:  # e.g. a copy too long once this contact's values are in
            return ItemResult(tid, ItemStatus.ERROR, Outcome.ERROR, str(exc))
        done = Outcome.DELETED if self._contents is None else Outcome.EDITED
        succeeded, last = False, None
        for step in steps:
            result = await self._call(item, step)
            if result is None:  # stopped before this call
                if not succeeded:
                    return None
                stopped = "the job stopped before the audio was deleted"
                return ItemResult(tid, ItemStatus.ERROR, Outcome.ERROR, stopped)
            if result.outcome is None:
                succeeded = True
                continue
            if result.outcome is Outcome.GONE and self._contents is None:
                last = result
                continue
            return result
        if succeeded:
            return ItemResult(tid, ItemStatus.DONE, done)
        return last

    async def _call(self, item: JobItem, step: Step) -> ItemResult | None:
        tries = rate_limited = 0
        while True:
            probe = await self.limiter.acquire(self._stop)
            if probe is None:
                return None
            written = False

            def went() -> None:
                nonlocal written
                written = True
                self.limiter.went()

            try:
                await self.bot.call(
                    step.method, {**step.params, "chat_id": item.telegram_id}, on_write=went
                )
            except Exception as exc:
                if not written:
                    self.limiter.went()
                failure = failure_of(exc)
                tries += 1
                decided = verdict(failure, tries=tries, rate_limited_tries=rate_limited)
                refused = decided.action is Action.PAUSE_BOT
                self.limiter.answered(probe=probe, refused=refused)
                if decided.action is Action.RECORD:
                    assert decided.status is not None
                    return ItemResult(
                        item.telegram_id, decided.status, decided.outcome, decided.error
                    )
                if decided.action is Action.PAUSE_BOT:
                    rate_limited += 1
                    self.limiter.rate_limited(decided.retry_after_s or 1.0)
                    continue
                if decided.action is Action.RETRY:
                    await asyncio.sleep(RETRY_PAUSE_S * tries)
                    continue
                self.error = decided.error or "Telegram refused the bot's token"
                self._stop.set()
                return ItemResult(item.telegram_id, ItemStatus.ERROR, Outcome.ERROR, decided.error)
            else:
                self.limiter.answered(probe=probe, refused=False)
                return ItemResult(item.telegram_id, ItemStatus.DONE, None)
