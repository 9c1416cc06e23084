"""Outcomes are buffered and written in batches: one transaction for every shot of the process.

A delivery's row stays `sending` until its outcome is flushed, so a crash between the answer and
the flush leaves it `unknown` (never resent): the flush interval bounds that window.
"""

from __future__ import annotations

import asyncio

from disparo.db.deliveries import ContactChange, DeliveryOutcome
from disparo.engine.clock import Clock
from disparo.engine.limiter import wait_any
from disparo.engine.outage import Outage
from disparo.engine.store import ShotStore

FLUSH_INTERVAL_S = 0.2
FLUSH_SIZE = 2000  # flush at once past this many buffered outcomes


class OutcomeRecorder:
    """Collects outcomes from every sender of the process and writes them together."""

    def __init__(
        self,
        store: ShotStore,
        clock: Clock,
        *,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        flush_size: int = FLUSH_SIZE,
    ) -> None:
        self._store = store
        self._clock = clock
        self._interval_s = flush_interval_s
        self._flush_size = flush_size
        self._outcomes: list[DeliveryOutcome] = []
        self._changes: list[ContactChange] = []
        self._lock = asyncio.Lock()
        self._full = asyncio.Event()
        self._outage = Outage("record outcomes", clock)
        self.flushes = 0

    @property
    def buffered(self) -> int:
        """Outcomes waiting to be written."""
        return len(self._outcomes)

    def add(self, outcome: DeliveryOutcome, change: ContactChange | None = None) -> None:
        """Buffer one outcome (and the contact change it proves)."""
        self._outcomes.append(outcome)
        if change is not None:
            self._changes.append(change)
        if len(self._outcomes) >= self._flush_size:
            self._full.set()

    async def flush(self) -> None:
        """Write everything buffered now; on failure keep it buffered and raise."""
        async with self._lock:
            outcomes, self._outcomes = self._outcomes, []
            changes, self._changes = self._changes, []
            self._full.clear()
            if not outcomes and not changes:
                return
            try:
                await self._store.record_outcomes(outcomes, changes, now=self._clock.now())
            except BaseException:
                self._outcomes[:0] = outcomes
                self._changes[:0] = changes
                raise
            self.flushes += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every interval (or when the buffer fills) until `stop`, then a last time."""
        while not stop.is_set():
            await wait_any(stop, self._full, within_s=self._interval_s)
            await self._flush_logged()
        await self._flush_logged()

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # the database is away: keep the outcomes, try again soon
            self._outage.failed(exc, buffered=self.buffered)
            await asyncio.sleep(self._interval_s)
        else:
            self._outage.succeeded()
