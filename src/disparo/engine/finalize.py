"""Settle a shot once its sender's loop ended: record, then finish, hand back or stop it.

| why the loop ended | the shot becomes | never-sent deliveries |
| --- | --- | --- |
| done | sent (per-outcome counts; last_error sums up failures) | none left |
| content error | error, last_error says what to fix | back to pending |
| token revoked | error, with every other unfinished shot of the bot | back to pending |
| cancelled | stays cancelled | skipped, reason cancelled |
| paused | stays paused, lease released, attempt not counted | back to pending |
| SIGTERM | pending again at once, attempt not counted | back to pending |
| lease lost | left to the rescue (fenced: changed only if still ours) | back to pending if ours |
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from disparo.db import leases
from disparo.db.finish import finish_cancelled, finish_shot
from disparo.db.shots import delivery_counts
from disparo.domain.statuses import ShotStatus
from disparo.engine.delivery import Item, Stop

if TYPE_CHECKING:
    from disparo.engine.sender import ShotSender

log = logging.getLogger("disparo.engine")

SETTLE_TRIES = 5


async def _retrying(what: str, sender: ShotSender, action: Callable[[], Awaitable[Any]]) -> Any:
    """Run a database step, retrying a few times while the database is away."""
    delay_s = 0.25
    for attempt in range(1, SETTLE_TRIES + 1):
        try:
            return await action()
        except Exception as exc:
            if attempt == SETTLE_TRIES:
                log.error(
                    "[SHOTS][WORKER] could not settle the shot; a rescue will",
                    extra={"shot_id": sender.shot.id, "step": what, "error": type(exc).__name__},
                )
                return None
            await asyncio.sleep(delay_s)
            delay_s *= 2
    return None  # pragma: no cover - the loop returns


def _flushed(sender: ShotSender) -> Callable[[], Awaitable[bool]]:
    async def flush() -> bool:
        await sender.recorder.flush()
        return True

    return flush


async def finalize(sender: ShotSender, unsent: list[Item]) -> Stop:
    """Record what is buffered, then settle the shot for `sender.stop_reason`."""
    reason = sender.stop_reason
    for item in unsent:
        if item.step > 0:  # the audio went, the copy did not: never resend the audio
            sender.record_unsendable(
                item, f"the shot stopped ({reason.name.lower()}) before the copy was sent"
            )
    fresh = [item.telegram_id for item in unsent if item.step == 0]
    if not await _retrying("record", sender, _flushed(sender)):
        # Settling now would turn the sent-but-unrecorded deliveries `unknown`. Leave the shot
        # to the rescue; the recorder keeps the outcomes and writes them if the database
        # comes back first.
        sender.metrics.forget_shot(sender.shot.bot_slug, sender.shot.id)
        return reason
    shot, db, worker_id = sender.shot, sender.db, sender.worker_id
    now = sender.clock.now()
    counts: dict[str, int] | None = None
    if reason is Stop.DONE:
        counts = await _retrying(
            "finish",
            sender,
            lambda: finish_shot(db, shot.id, worker_id=worker_id, now=now),
        )
    elif reason is Stop.SHOT_ERROR:
        counts = await _retrying(
            "finish",
            sender,
            lambda: finish_shot(
                db,
                shot.id,
                worker_id=worker_id,
                now=now,
                status=ShotStatus.ERROR,
                last_error=sender.stop_message,
                unsent=fresh,
            ),
        )
    elif reason is Stop.BOT_REVOKED:
        await _retrying(
            "stop bot",
            sender,
            lambda: leases.stop_bot_shots(
                db,
                shot.bot_slug,
                message=sender.stop_message or "",
                now=now,
                worker_id=worker_id,
                shot_id=shot.id,
                unsent=fresh,
            ),
        )
    elif reason is Stop.CANCELLED:
        counts = await _retrying(
            "cancel",
            sender,
            lambda: finish_cancelled(db, shot.id, worker_id=worker_id, now=now, unsent=fresh),
        )
    else:  # paused, SIGTERM, lease lost: hand the shot back (fenced: only if still ours)
        await _retrying(
            "release",
            sender,
            lambda: leases.release_shot(
                db,
                shot.id,
                worker_id=worker_id,
                now=now,
                unsent=fresh,
                count_attempt=reason is Stop.LOST,
            ),
        )
    if counts is None:  # stopped with its bot, or handed back: what is stored now
        counts = await _stored_counts(sender)
    _log_end(sender, reason, counts)
    sender.metrics.forget_shot(shot.bot_slug, shot.id)
    return reason


async def _stored_counts(sender: ShotSender) -> dict[str, int] | None:
    """The shot's deliveries by status, as the API counts them; None if the database is away."""
    try:
        async with sender.db.read() as conn:
            counts = await delivery_counts(conn, [sender.shot.id])
    except Exception:
        return None
    return counts.get(sender.shot.id, {})


def _log_end(sender: ShotSender, reason: Stop, counts: dict[str, int] | None) -> None:
    """The end's log line; its counts are the stored ones (the API's), or when the database
    could not be read, this worker's own with `pending` unknown (null)."""
    final = counts if counts is not None else dict(sender.progress.counts)
    extra: dict[str, Any] = {
        "shot_id": sender.shot.id,
        "bot_slug": sender.shot.bot_slug,
        "outcome": reason.name.lower(),
        "total": sender.progress.total,
        "sent": final.get("sent", 0),
        "skipped": final.get("skipped", 0),
        "errors": final.get("error", 0),
        "unknown": final.get("unknown", 0),
        "pending": final.get("pending", 0) if counts is not None else None,
        "rate_limited_pause_s": round(sender.limiter.paused_total_s, 3),
    }
    if sender.stop_message:
        extra["last_error"] = sender.stop_message
    if reason in (Stop.DONE, Stop.SHOT_ERROR, Stop.BOT_REVOKED, Stop.CANCELLED):
        log.info("[SHOTS][WORKER] job completed", extra=extra)
    else:
        log.info("[SHOTS][WORKER] job handed back", extra=extra)
