"""Settle a shot once its sender's loop ended: record, then finish, hand back or stop it.

| why the loop ended | the shot becomes | never-sent deliveries |
| --- | --- | --- |
| done | sent (per-outcome counts; last_error sums up failures) | none left |
| content error | error, last_error says what to fix | back to pending |
| token revoked | error, with every other unfinished shot of the bot | back to pending |
| cancelled | stays cancelled | skipped, reason cancelled |
| expired (expires_at passed) | expired, last_error says when | skipped, reason expired |
| paused | stays paused, lease released, attempt not counted | back to pending |
| SIGTERM | pending again at once, attempt not counted | back to pending |
| lease lost | left to the rescue (fenced: changed only if still ours) | back to pending if ours |

It knows nothing of the sender: it is given the values of the end (`Ending`) and the worker's
parts it writes through (`Settler`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from disparo.db.leases import ClaimedShot
from disparo.domain.statuses import ShotStatus
from disparo.engine.clock import Clock
from disparo.engine.items import Stop
from disparo.engine.metrics import EngineMetrics
from disparo.engine.recorder import OutcomeRecorder
from disparo.engine.store import ShotStore

log = logging.getLogger("disparo.engine")

SETTLE_TRIES = 5
FIRST_RETRY_S = 0.25

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Ending:
    """How a sender's loop ended: why, what it held unsent, and what it counted."""

    shot: ClaimedShot
    reason: Stop
    message: str | None  # the shot's last_error when it stops in error
    unsent: Collection[int]  # reserved, never sent: back to pending (or cancelled, expired)
    total: int  # the audience size
    counts: Mapping[str, int]  # this worker's outcomes by status (logged if the store is away)
    paused_s: float  # time the bot spent paused by 429s


@dataclass(frozen=True, slots=True)
class Settler:
    """What settling writes through: the worker's store, outcome buffer, clock and metrics."""

    store: ShotStore
    recorder: OutcomeRecorder
    clock: Clock
    worker_id: str
    metrics: EngineMetrics


async def _retrying(what: str, shot_id: int, action: Callable[[], Awaitable[T]]) -> T | None:
    """Run a store step, retrying a few times while the database is away; None if it stays."""
    delay_s = FIRST_RETRY_S
    for attempt in range(1, SETTLE_TRIES + 1):
        try:
            return await action()
        except Exception as exc:
            if attempt == SETTLE_TRIES:
                log.error(
                    "[SHOTS][WORKER] could not settle the shot; a rescue will",
                    extra={"shot_id": shot_id, "step": what, "error": type(exc).__name__},
                )
                return None
            await asyncio.sleep(delay_s)
            delay_s *= 2
    return None  # pragma: no cover - the loop returns


async def finalize(settler: Settler, end: Ending) -> Stop:
    """Record what is buffered, then settle the shot for `end.reason`; the reason."""
    shot, reason = end.shot, end.reason
    store, worker_id = settler.store, settler.worker_id

    async def flush() -> bool:
        await settler.recorder.flush()
        return True

    if not await _retrying("record", shot.id, flush):
        # Settling now would turn the sent-but-unrecorded deliveries `unknown`. Leave the shot
        # to the rescue; the recorder keeps the outcomes and writes them if the database
        # comes back first.
        settler.metrics.forget_shot(shot.bot_slug, shot.id)
        return reason
    now = settler.clock.now()
    counts: dict[str, int] | None = None
    if reason is Stop.DONE:
        counts = await _retrying(
            "finish", shot.id, lambda: store.finish_shot(shot.id, worker_id=worker_id, now=now)
        )
    elif reason is Stop.SHOT_ERROR:
        counts = await _retrying(
            "finish",
            shot.id,
            lambda: store.finish_shot(
                shot.id,
                worker_id=worker_id,
                now=now,
                status=ShotStatus.ERROR,
                last_error=end.message,
                unsent=end.unsent,
            ),
        )
    elif reason is Stop.BOT_REVOKED:
        await _retrying(
            "stop bot",
            shot.id,
            lambda: store.stop_bot_shots(
                shot.bot_slug,
                message=end.message or "",
                now=now,
                worker_id=worker_id,
                shot_id=shot.id,
                unsent=end.unsent,
            ),
        )
    elif reason is Stop.CANCELLED:
        counts = await _retrying(
            "cancel",
            shot.id,
            lambda: store.finish_cancelled(
                shot.id, worker_id=worker_id, now=now, unsent=end.unsent
            ),
        )
    elif reason is Stop.EXPIRED:
        counts = await _retrying(
            "expire",
            shot.id,
            lambda: store.finish_expired(shot.id, worker_id=worker_id, now=now, unsent=end.unsent),
        )
    else:  # paused, SIGTERM, lease lost: hand the shot back (fenced: only if still ours)
        await _retrying(
            "release",
            shot.id,
            lambda: store.release_shot(
                shot.id,
                worker_id=worker_id,
                now=now,
                unsent=end.unsent,
                count_attempt=reason is Stop.LOST,
            ),
        )
    if counts is None:  # stopped with its bot, or handed back: what is stored now
        counts = await _stored_counts(store, shot.id)
    _log_end(end, counts)
    settler.metrics.forget_shot(shot.bot_slug, shot.id)
    return reason


async def _stored_counts(store: ShotStore, shot_id: int) -> dict[str, int] | None:
    """The shot's deliveries by status, as the API counts them; None if the database is away."""
    try:
        return await store.delivery_counts(shot_id)
    except Exception:
        return None


def _log_end(end: Ending, counts: Mapping[str, int] | None) -> None:
    """The end's log line; its counts are the stored ones (the API's), or when the database
    could not be read, this worker's own with `pending` unknown (null)."""
    final = counts if counts is not None else end.counts
    extra: dict[str, Any] = {
        "shot_id": end.shot.id,
        "bot_slug": end.shot.bot_slug,
        "outcome": end.reason.name.lower(),
        "total": end.total,
        "sent": final.get("sent", 0),
        "skipped": final.get("skipped", 0),
        "errors": final.get("error", 0),
        "unknown": final.get("unknown", 0),
        "pending": final.get("pending", 0) if counts is not None else None,
        "rate_limited_pause_s": round(end.paused_s, 3),
    }
    if end.message:
        extra["last_error"] = end.message
    if end.reason in (Stop.DONE, Stop.SHOT_ERROR, Stop.BOT_REVOKED, Stop.CANCELLED, Stop.EXPIRED):
        log.info("[SHOTS][WORKER] job completed", extra=extra)
    else:
        log.info("[SHOTS][WORKER] job handed back", extra=extra)
