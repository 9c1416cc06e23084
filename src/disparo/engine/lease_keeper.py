"""Keeps this worker's leases: renews them, holds the local deadlines, watches for pause/cancel.

Every `lease_s / 6` one UPDATE renews every lease the process holds; the local deadline of a
shot is the renewal's start + lease_s - margin, so the worker stops sending before any other
worker may consider the lease expired. Every `control_interval_s` (and at once on a wake-up)
one read checks the owned shots' status: paused or cancelled stops a sender within a second;
a lease taken away stops it at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from disparo.domain import pacing
from disparo.domain.statuses import ShotStatus
from disparo.engine.clock import Clock
from disparo.engine.items import Stop, stop_for
from disparo.engine.limiter import wait_any
from disparo.engine.outage import Outage
from disparo.engine.store import ShotStore

CONTROL_INTERVAL_S = 0.5

# Called with (shot_id, why) when an owned shot must stop: paused, cancelled, or lease lost.
OnChange = Callable[[int, Stop], None]


class LeaseKeeper:
    """The leases of one worker process."""

    def __init__(
        self,
        store: ShotStore,
        clock: Clock,
        *,
        worker_id: str,
        lease_s: float,
        on_change: OnChange,
        control_interval_s: float = CONTROL_INTERVAL_S,
    ) -> None:
        self._store = store
        self._clock = clock
        self._worker_id = worker_id
        self.lease_s = lease_s
        self._margin_s = pacing.lease_margin_s(lease_s)
        self._renew_every_s = pacing.lease_renew_interval_s(lease_s)
        self._control_every_s = control_interval_s
        self._on_change = on_change
        self._deadlines: dict[int, float] = {}
        self._outage = Outage("renew or check leases", clock)
        self.wake = asyncio.Event()

    @property
    def held(self) -> list[int]:
        """The shots whose lease this worker keeps."""
        return list(self._deadlines)

    def expires_at(self) -> tuple[float, timedelta]:
        """(monotonic start, lease length) to stamp a claim or renewal with, read before it."""
        return self._clock.monotonic(), timedelta(seconds=self.lease_s)

    def hold(self, shot_id: int, started: float) -> None:
        """Start keeping the lease of a shot claimed at monotonic time `started`."""
        self._deadlines[shot_id] = started + self.lease_s - self._margin_s

    def drop(self, shot_id: int) -> None:
        """Stop keeping a lease (the sender settled its shot)."""
        self._deadlines.pop(shot_id, None)

    def valid(self, shot_id: int) -> bool:
        """True while this worker may still send for the shot."""
        return self._clock.monotonic() < self._deadlines.get(shot_id, 0.0)

    async def run(self, stop: asyncio.Event) -> None:
        """Renew and watch until `stop`."""
        next_renew = self._clock.monotonic() + self._renew_every_s
        while not stop.is_set():
            await wait_any(stop, self.wake, within_s=self._control_every_s)
            self.wake.clear()
            if not self._deadlines:
                next_renew = self._clock.monotonic() + self._renew_every_s
                continue
            try:
                if self._clock.monotonic() >= next_renew:
                    await self.renew()
                    next_renew = self._clock.monotonic() + self._renew_every_s
                await self.check()
            except Exception as exc:  # the database is away: deadlines run out on their own,
                # and the renewal is tried again at the next look, not a renewal interval later
                self._outage.failed(exc, held=len(self._deadlines))
            else:
                self._outage.succeeded()

    async def renew(self) -> None:
        """Extend every held lease; report the ones this worker no longer holds."""
        started, length = self.expires_at()
        held = list(self._deadlines)
        statuses = await self._store.renew_leases(
            worker_id=self._worker_id,
            shot_ids=held,
            lease_expires_at=self._clock.now() + length,
        )
        for shot_id in held:
            if shot_id in statuses:
                if shot_id in self._deadlines:
                    self.hold(shot_id, started)
            else:
                self._on_change(shot_id, Stop.LOST)

    async def check(self) -> None:
        """Report owned shots that were paused, cancelled or taken away."""
        held = list(self._deadlines)
        states = await self._store.shot_states(held)
        for shot_id in held:
            status, locked_by = states.get(shot_id, (None, None))
            if locked_by != self._worker_id:
                self._on_change(shot_id, Stop.LOST)
            elif status is not ShotStatus.RUNNING:
                self._on_change(shot_id, stop_for(status))
