"""A shot's progress in this worker: outcome counts, metrics, and the batch log lines."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from disparo.db.leases import ClaimedShot
from disparo.engine.items import Batch
from disparo.engine.metrics import EngineMetrics

log = logging.getLogger("disparo.engine")


class Progress:
    """Counts outcomes per shot and per batch; logs `processing batch` / `batch completed`."""

    def __init__(self, shot: ClaimedShot, metrics: EngineMetrics) -> None:
        self.shot = shot
        self.metrics = metrics
        self.total = shot.audience_total or 0
        self.counts: Counter[str] = Counter()
        self.done = 0
        self._batches = 0
        self._counters: dict[str, Any] = {}
        self._done_gauge = metrics.shot_done.labels(shot.bot_slug, str(shot.id))

    def selected(self, total: int) -> None:
        """The audience was just written (the spec's `audience selected` line)."""
        log.info(
            "[SHOTS][AUDIENCE] audience selected",
            extra={
                "shot_id": self.shot.id,
                "bot_slug": self.shot.bot_slug,
                "target": self.shot.target,
                "recency_days": self.shot.recency_days,
                "count": total,
            },
        )

    def started(self, total: int) -> None:
        """The audience is known."""
        self.total = total
        self.metrics.shot_audience.labels(self.shot.bot_slug, str(self.shot.id)).set(total)

    def reserved(self, reserved: int, skipped: int, held: int = 0) -> Batch:
        """A reservation of `reserved` deliveries (and `skipped` found ineligible, `held`
        holdout members passed): its batch."""
        self._batches += 1
        batch = Batch(self._batches, reserved)
        for status, count in (("skipped", skipped), ("holdout", held)):
            if count:
                self._count(status, count)
                batch.counts[status] += count
        log.info(
            "[SHOTS][WORKER] processing batch",
            extra={
                "shot_id": self.shot.id,
                "bot_slug": self.shot.bot_slug,
                "batch": batch.number,
                "reserved": reserved,
                "skipped_ineligible": skipped,
                "holdout": held,
                "done": self.done,
                "total": self.total,
            },
        )
        if not reserved:
            self._completed(batch)
        return batch

    def outcome(self, batch: Batch, status: str) -> None:
        """One delivery of `batch` reached its final outcome."""
        self._count(status, 1)
        batch.counts[status] += 1
        batch.remaining -= 1
        if batch.remaining == 0:
            self._completed(batch)

    def _count(self, status: str, count: int) -> None:
        self.counts[status] += count
        self.done += count
        self._done_gauge.set(self.done)
        counter = self._counters.get(status)
        if counter is None:
            counter = self._counters[status] = self.metrics.messages.labels(
                self.shot.bot_slug, status
            )
        counter.inc(count)

    def _completed(self, batch: Batch) -> None:
        log.info(
            "[SHOTS][WORKER] batch completed",
            extra={
                "shot_id": self.shot.id,
                "bot_slug": self.shot.bot_slug,
                "batch": batch.number,
                "sent": batch.counts["sent"],
                "skipped": batch.counts["skipped"],
                "errors": batch.counts["error"],
                "unknown": batch.counts["unknown"],
            },
        )
