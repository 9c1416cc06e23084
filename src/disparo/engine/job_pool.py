"""The recall and edit jobs a worker runs beside its shots: claimed when their bot is free of
shots (and a bot with a running job starts no shot), each run by a `JobRunner` as a task."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Protocol

from disparo.db import jobs as store
from disparo.db.bots import BotRecord
from disparo.db.engine import Database
from disparo.db.jobs import ClaimedJob
from disparo.db.links import LinkSource
from disparo.domain import pacing
from disparo.domain.jobs import JobKind
from disparo.domain.tracking import Tracker
from disparo.engine.clock import Clock
from disparo.engine.items import BotCaller
from disparo.engine.job_runner import JobRunner
from disparo.engine.store import ShotStore
from disparo.telegram import MalformedTokenError

log = logging.getLogger("disparo.engine.jobs")

MAX_JOBS = 10  # jobs one worker runs at once (each on its own bot)


class Bots(Protocol):
    """Hands out a bot's Bot API handle from its token (the worker's BotFactory)."""

    def bot(self, token: str) -> BotCaller:
        """The handle; MalformedTokenError when `token` does not have a token's shape."""
        ...


class JobPool:
    """Claims due jobs and runs them until the worker stops."""

    def __init__(
        self,
        db: Database,
        store_: ShotStore,
        api: Bots,
        *,
        clock: Clock,
        worker_id: str,
        lease_s: float,
        guard: pacing.JitterGuard,
        links: LinkSource | None,
        on_end: asyncio.Event,
    ) -> None:
        self.db, self.store, self.api, self.clock = db, store_, api, clock
        self.worker_id, self.lease_s, self.guard, self.links = worker_id, lease_s, guard, links
        self.on_end = on_end
        self.runners: dict[int, JobRunner] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def tick(self) -> None:
        """Claim and start due jobs while there is room."""
        while len(self.runners) < MAX_JOBS:
            now = self.clock.now()
            busy = {runner.job.bot_slug for runner in self.runners.values()}
            job = await store.claim_job(
                self.db,
                worker_id=self.worker_id,
                now=now,
                lease_expires_at=now + timedelta(seconds=self.lease_s),
                skip_bots=busy,
            )
            if job is None:
                return
            await self._start(job)

    async def _start(self, job: ClaimedJob) -> None:
        found = (await self.store.bots([job.bot_slug])).get(job.bot_slug)
        if not isinstance(found, BotRecord):
            await self._fail(job, f"the bot '{job.bot_slug}' cannot be used: {found}")
            return
        try:
            bot = self.api.bot(found.token)
        except MalformedTokenError as exc:
            await self._fail(job, str(exc))
            return
        runner = JobRunner(
            self.db,
            bot,
            job,
            clock=self.clock,
            worker_id=self.worker_id,
            rate_per_s=pacing.effective_rate(found.rate_per_s, found.paid_broadcast),
            lease_s=self.lease_s,
            timezone=found.timezone,
            tracker=await self._tracker(job),
            guard=self.guard,
        )
        self.runners[job.id] = runner
        task = asyncio.create_task(self._run(runner), name=f"job-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tracker(self, job: ClaimedJob) -> Tracker | None:
        """An edit's buttons go through the redirect as the shot's did (the codes name the
        links of the shot's content, which the edit has become)."""
        if job.kind is not JobKind.EDIT or not job.track_clicks or self.links is None:
            return None
        links = await self.links.get()
        if links is None:
            return None
        names = [variant.name for variant in job.variants]
        return links.tracker(job.shot_id, copy_links=False, variants=names)

    async def _fail(self, job: ClaimedJob, message: str) -> None:
        await store.settle_job(
            self.db, job.id, worker_id=self.worker_id, now=self.clock.now(), last_error=message
        )

    async def _run(self, runner: JobRunner) -> None:
        try:
            await runner.run()
        except Exception:  # a bug: the lease runs out and the next claim goes on from there
            log.exception("job runner failed", extra={"job_id": runner.job.id})
        finally:
            self.runners.pop(runner.job.id, None)
            self.on_end.set()

    async def stop_all(self) -> None:
        """Stop every runner after its requests in flight, and wait for them."""
        for runner in self.runners.values():
            runner.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
