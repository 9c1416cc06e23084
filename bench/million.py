"""A million contacts: audience estimates, the snapshot, and the worker's memory while it sends.

One bot with 1,000,000 contacts (95 % active, 4 % blocked, 1 % deactivated; last interaction
spread over 120 days, 5 % never) and 200,000 PIX funnel events (pix_created /
checkout_pix_created, one per contact) plus 50,000 payments (created / paid / expired), loaded
with COPY on PostgreSQL and one executemany transaction on SQLite, then ANALYZEd (as
autovacuum would after a bulk load).

Measured on each backend:

  estimate   `db.audience.estimate_audience_size` (what the API's estimate route runs) for
             each target, without and with recency_days=30: the first call and the median of 5
  snapshot   `db.deliveries.snapshot_audience` of a `started` shot (the whole audience, ~950k
             rows INSERT … SELECT with the send order), timed around the call
  send       one `disparo worker` process then sends that shot (the bot on paid broadcast at
             1,000/s so the run moves real volume) for --send-s seconds; its RSS is sampled
             every 0.25 s and its peak (VmHWM) read before SIGTERM; duplicates at the simulator

Prints the machine, the parameters and one JSON object per backend.

    .venv/bin/python bench/million.py [--backend both] [--contacts 1000000] [--send-s 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert, update
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db import deliveries, leases
from disparo.db.audience import estimate_audience_size
from disparo.db.engine import Database
from disparo.db.tables import bots, shots_queue
from harness import print_setup, run_with_simulator
from throughput import Databases, jsonable, sim_post, token_for
from worker_process import WorkerProcess, sim_figures

SLUG = "million"
PAID_RATE = 1000
BENCH_WORKER = "bench:snapshot"


def contact_rows(count: int, now: datetime, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """(telegram_id, chat_state, last_interaction_at or None) for `count` contacts."""
    for n in range(count):
        roll = rng.random()
        state = "active" if roll < 0.95 else "blocked" if roll < 0.99 else "deactivated"
        last = None if rng.random() < 0.05 else now - timedelta(seconds=rng.uniform(0, 120 * 86400))
        yield 10_000_000 + n, state, last


def pix_rows(
    contacts: int, events: int, now: datetime, rng: random.Random
) -> list[tuple[Any, ...]]:
    """(telegram_id, event, occurred_at) for `events` distinct contacts."""
    ids = rng.sample(range(contacts), events)
    kinds = ("pix_created", "checkout_pix_created")
    return [
        (10_000_000 + n, kinds[n % 2], now - timedelta(seconds=rng.uniform(0, 90 * 86400)))
        for n in ids
    ]


def payment_rows(contacts: int, count: int, rng: random.Random) -> list[tuple[Any, ...]]:
    """(telegram_id, external_id, status, amount_cents) for `count` payments."""
    statuses = ("created", "paid", "expired")
    return [
        (10_000_000 + rng.randrange(contacts), f"pay-{n}", statuses[n % 3], 1990)
        for n in range(count)
    ]


def load_postgresql(url: URL, args: argparse.Namespace, now: datetime) -> float:
    """COPY the contacts, events and payments; ANALYZE; seconds it took."""
    rng = random.Random(7)
    began = time.monotonic()
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        with conn.cursor() as cur:
            columns = "(bot_slug, telegram_id, chat_state, last_interaction_at, updated_at)"
            with cur.copy(f"COPY telegram_contacts {columns} FROM STDIN") as copy:
                for telegram_id, state, last in contact_rows(args.contacts, now, rng):
                    copy.write_row((SLUG, telegram_id, state, last, now))
            with cur.copy(
                "COPY funnel_events (bot_slug, telegram_id, event, occurred_at) FROM STDIN"
            ) as copy:
                for row in pix_rows(args.contacts, args.pix_events, now, rng):
                    copy.write_row((SLUG, *row))
            with cur.copy(
                "COPY payment_transactions (bot_slug, telegram_id, external_id, status, "
                "amount_cents) FROM STDIN"
            ) as copy:
                for row in payment_rows(args.contacts, args.payments, rng):
                    copy.write_row((SLUG, *row))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE telegram_contacts, funnel_events, payment_transactions")
    return time.monotonic() - began


def _sqlite_time(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC text)
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(url: URL, args: argparse.Namespace, now: datetime) -> float:
    """One executemany transaction per table; ANALYZE; seconds it took."""
    rng = random.Random(7)
    began = time.monotonic()
    conn = sqlite3.connect(str(url.database), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN")
        stamp = _sqlite_time(now)
        conn.executemany(
            "INSERT INTO telegram_contacts (bot_slug, telegram_id, chat_state, "
            "last_interaction_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (
                (SLUG, telegram_id, state, _sqlite_time(last), stamp)
                for telegram_id, state, last in contact_rows(args.contacts, now, rng)
            ),
        )
        conn.executemany(
            "INSERT INTO funnel_events (bot_slug, telegram_id, event, occurred_at) "
            "VALUES (?, ?, ?, ?)",
            (
                (SLUG, tid, event, _sqlite_time(at))
                for tid, event, at in pix_rows(args.contacts, args.pix_events, now, rng)
            ),
        )
        conn.executemany(
            "INSERT INTO payment_transactions (bot_slug, telegram_id, external_id, status, "
            "amount_cents, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            ((SLUG, *row, stamp) for row in payment_rows(args.contacts, args.payments, rng)),
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return time.monotonic() - began


async def time_estimates(db: Database, now: datetime) -> dict[str, Any]:
    """Each target × recency: count, first call and median of 5 in milliseconds."""
    results: dict[str, Any] = {}
    for target in ("started", "pix_created"):
        for recency in (None, 30):
            timings = []
            count = 0
            for _ in range(6):
                async with db.read() as conn:
                    began = time.perf_counter()
                    count = await estimate_audience_size(conn, SLUG, target, recency, now=now)
                    timings.append((time.perf_counter() - began) * 1000)
            key = f"{target}" + (f"_recency_{recency}d" if recency else "")
            results[key] = {
                "count": count,
                "first_ms": timings[0],
                "median_ms": statistics.median(timings[1:]),
            }
    return results


async def time_snapshot(db: Database) -> tuple[int, float, float]:
    """Claim a `started` shot as the bench, snapshot it (timed), hand it back; (shot id,
    audience, seconds)."""
    now = datetime.now(UTC)
    async with db.write() as conn:
        await conn.execute(
            insert(shots_queue).values(
                bot_slug=SLUG, target="started", copy="<b>Oferta</b> só hoje", scheduled_at=now
            )
        )
    claimed = await leases.claim_due_shot(
        db, worker_id=BENCH_WORKER, now=now, lease_expires_at=now + timedelta(minutes=10)
    )
    assert claimed is not None
    began = time.perf_counter()
    snapshot = await deliveries.snapshot_audience(
        db,
        claimed.id,
        bot_slug=SLUG,
        target="started",
        recency_days=None,
        worker_id=BENCH_WORKER,
        now=now,
    )
    seconds = time.perf_counter() - began
    await leases.release_shot(db, claimed.id, worker_id=BENCH_WORKER, now=datetime.now(UTC))
    return claimed.id, snapshot.total if snapshot else 0, seconds


async def send_for(url: URL, sim: str, token: str, send_s: float, db: Database) -> dict[str, Any]:
    """Let one worker process send the snapshotted shot for `send_s`; memory and counts."""
    worker = WorkerProcess(url, sim)
    try:
        await worker.ready()
        worker.mark()
        await asyncio.sleep(send_s)
        cpu_s = worker.cpu_since_mark()
    finally:
        sample = worker.stop()
    figures = sim_figures(sim, [token])
    samples = sample.rss_mb_samples
    return {
        "seconds": send_s,
        "messages": len(figures.times),
        "per_s": len(figures.times) / send_s,
        "http_429": figures.http_429,
        "duplicates": figures.duplicates,
        "rss_mb_median": statistics.median(samples) if samples else None,
        "rss_mb_last": samples[-1] if samples else None,
        "peak_rss_mb": sample.peak_rss_mb,
        "cpu_s": cpu_s,
    }


async def run(
    args: argparse.Namespace, backend: str, sim: str, databases: Databases
) -> dict[str, Any]:
    url = databases.fresh(backend, "million")
    token = token_for(random.randrange(10**9, 10**10))
    db = Database(url)
    now = datetime.now(UTC)
    async with db.write() as conn:
        await conn.execute(
            insert(bots).values(
                slug=SLUG,
                token=token,
                rate_per_s=PAID_RATE,
                paid_broadcast=True,
                webhook_secret="s" * 24,
            )
        )
    loader = load_postgresql if backend == "postgresql" else load_sqlite
    load_s = loader(url, args, now)
    estimates = await time_estimates(db, now)
    shot_id, audience, snapshot_s = await time_snapshot(db)
    sim_post(sim, "reset", {})
    sim_post(sim, f"bots/{token}/limits", {"paid_per_second": PAID_RATE})
    sending = await send_for(url, sim, token, args.send_s, db)
    async with db.write() as conn:  # leave nothing running for the next backend
        await conn.execute(update(shots_queue).values(status="cancelled", locked_by=None))
    await db.dispose()
    return {
        "backend": backend,
        "contacts": args.contacts,
        "pix_events": args.pix_events,
        "payments": args.payments,
        "load_s": load_s,
        "estimate": estimates,
        "snapshot": {"shot_id": shot_id, "audience": audience, "seconds": snapshot_s},
        "send": sending,
    }


async def main_async(args: argparse.Namespace, sim: str) -> list[dict[str, Any]]:
    databases = Databases()
    results = []
    try:
        for backend in args.backends:
            result = await run(args, backend, sim, databases)
            print(json.dumps(jsonable(result)), file=sys.stderr, flush=True)
            results.append(result)
    finally:
        databases.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--pix-events", type=int, default=200_000)
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--send-s", type=float, default=60.0, help="how long the worker sends")
    parser.add_argument("--port", type=int, default=0, help="simulator port (0: a free one)")
    args = parser.parse_args()
    args.backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    print_setup(
        {
            "backends": args.backends,
            "contacts": args.contacts,
            "pix_events": args.pix_events,
            "payments": args.payments,
            "send_s": args.send_s,
            "bot": {"rate_per_s": PAID_RATE, "paid_broadcast": True},
            "worker": "python -m disparo worker, its own process",
        }
    )
    results = run_with_simulator(args.port, lambda sim, _pid: main_async(args, sim))
    print(json.dumps({"results": jsonable(results)}, indent=1))


if __name__ == "__main__":
    main()
