"""The spec's own worker (shots-spec.pt-BR.md, task D), as a baseline for bench/throughput.py.

Faithful to the spec: a picker every 10 s takes ONE pending due shot for the whole system (the
global advisory lock), builds the audience list, sends it in sub-batches of 50 with 10
concurrent requests per chunk capped at ~25 req/s, backs off 30 s on a 429 and retries once,
and marks the shot sent. It writes `shots_sent` rows as the spec did (one INSERT per
recipient). It uses Disparo's tables and Bot API client so that only the algorithm differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

from sqlalchemy import insert, select, update

from disparo.db.audience import audience_select
from disparo.db.engine import Database
from disparo.db.tables import bots, shots_queue, shots_sent
from disparo.telegram import BotAPI, Forbidden, TelegramError, TooManyRequests

POLL_S = 10.0
SUB_BATCH = 50
CONCURRENCY = 10
RATE_PER_S = 25.0
BACKOFF_429_S = 30.0


async def _pick(db: Database) -> tuple[int, str, str, int | None, str, str] | None:
    async with db.write() as conn:
        row = (
            await conn.execute(
                select(
                    shots_queue.c.id,
                    shots_queue.c.bot_slug,
                    shots_queue.c.target,
                    shots_queue.c.recency_days,
                    shots_queue.c.copy,
                    bots.c.token,
                )
                .join(bots, bots.c.slug == shots_queue.c.bot_slug)
                .where(
                    shots_queue.c.status == "pending",
                    shots_queue.c.scheduled_at <= datetime.now(UTC),
                )
                .order_by(shots_queue.c.scheduled_at)
                .limit(1)
                .with_for_update(skip_locked=True, of=shots_queue)
            )
        ).first()
        if row is None:
            return None
        await conn.execute(
            update(shots_queue)
            .where(shots_queue.c.id == row.id)
            .values(status="running", attempt_count=shots_queue.c.attempt_count + 1)
        )
        return row.id, row.bot_slug, row.target, row.recency_days, row.copy, row.token


async def _record(
    db: Database, shot_id: int, slug: str, tid: int, status: str, error: str | None
) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(shots_sent).values(
                shot_id=shot_id,
                bot_slug=slug,
                telegram_id=tid,
                seq=0,
                status=status,
                error=error,
                sent_at=datetime.now(UTC) if status == "sent" else None,
            )
        )


async def _run_shot(
    db: Database, api: BotAPI, picked: tuple[int, str, str, int | None, str, str]
) -> None:
    shot_id, slug, target, recency, copy, token = picked
    async with db.read() as conn:
        audience = [
            row.telegram_id
            for row in await conn.execute(
                audience_select(slug, target, recency, now=datetime.now(UTC))
            )
        ]
    bot = api.bot(token)

    async def send(tid: int, retried: bool = False) -> None:
        try:
            await bot.send_message(tid, copy, link_preview_options={"is_disabled": True})
        except TooManyRequests:
            if retried:
                await _record(db, shot_id, slug, tid, "error", "429")
                return
            await asyncio.sleep(BACKOFF_429_S)
            await send(tid, retried=True)
            return
        except Forbidden as exc:
            await _record(db, shot_id, slug, tid, "skipped", exc.description)
            return
        except TelegramError as exc:
            await _record(db, shot_id, slug, tid, "error", str(exc))
            return
        await _record(db, shot_id, slug, tid, "sent", None)

    chunk_s = CONCURRENCY / RATE_PER_S
    for start in range(0, len(audience), SUB_BATCH):
        sub_batch = audience[start : start + SUB_BATCH]
        for i in range(0, len(sub_batch), CONCURRENCY):
            began = time.monotonic()
            await asyncio.gather(*(send(tid) for tid in sub_batch[i : i + CONCURRENCY]))
            await asyncio.sleep(max(0.0, chunk_s - (time.monotonic() - began)))
    async with db.write() as conn:
        await conn.execute(
            update(shots_queue).where(shots_queue.c.id == shot_id).values(status="sent")
        )


async def run_spec_worker(db: Database, api: BotAPI, stop: asyncio.Event) -> None:
    """Pick and send one shot at a time, polling every 10 s, until `stop`."""
    while not stop.is_set():
        picked = await _pick(db)
        if picked is not None:
            await _run_shot(db, api, picked)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_S)
