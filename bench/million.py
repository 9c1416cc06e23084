"""A million contacts: audience estimates, the snapshot, the first message, and the worker's
memory while it sends.

One bot with 1,000,000 contacts (95 % active, 4 % blocked, 1 % deactivated; last interaction
spread over 120 days, 5 % never) and 200,000 PIX funnel events (pix_created /
checkout_pix_created, one per contact) plus 50,000 payments (created / paid / expired), loaded
with COPY on PostgreSQL and one executemany transaction on SQLite, then ANALYZEd (as
autovacuum would after a bulk load).

Measured on each backend:

  estimate   `db.audience.estimate_audience_size` (what the API's estimate route runs) for
             each target, without and with recency_days=30: the first call and the median of 5
  snapshot   the audience of a `started` shot (~950k rows) written with nothing else running,
             timed: whole in one statement (INSERT … SELECT in send order, as before 0013), and
             as the worker writes it (`snapshot_audience(first=2,000)`, then
             `continue_snapshot` in chunks of 10,000); each shot then deleted
  first      --runs times: a `started` shot created due now, with one `disparo worker`
             process idle and waiting (the bot on paid broadcast at 1,000/s): from its claim
             (`started_at`) to its first message at the simulator, and to its audience complete
             (written in chunks while it sends; polled every 0.1 s); each run's shot is then
             paused and deleted, except the last
  send       the last run's shot keeps sending for --send-s seconds; the worker's RSS is
             sampled every 0.25 s through all runs and its peak (VmHWM) read before SIGTERM;
             429s and duplicates at the simulator

Prints the machine, the parameters and one JSON object per backend.

    .venv/bin/python bench/million.py [--backend both] [--contacts 1000000] [--runs 5]
        [--send-s 60]
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db import deliveries, leases, snapshot_chunks
from disparo.db.audience import estimate_audience_size
from disparo.db.engine import Database
from disparo.db.tables import bots, shots_queue, shots_sent
from disparo.engine.snapshotter import SNAPSHOT_CHUNK, SNAPSHOT_FIRST
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


async def time_snapshot(db: Database, *, chunked: bool) -> dict[str, Any]:
    """Claim a `started` shot as the bench, write its audience whole in one statement or as
    the worker does (the first 2,000, then chunks), nothing sending meanwhile; timed, then the
    shot is deleted."""
    now = datetime.now(UTC)
    shot_id = await add_shot(db, now)
    claimed = await leases.claim_due_shot(
        db, worker_id=BENCH_WORKER, now=now, lease_expires_at=now + timedelta(minutes=10)
    )
    assert claimed is not None
    assert claimed.id == shot_id
    audience = {"bot_slug": SLUG, "target": "started", "recency_days": None}
    began = time.perf_counter()
    snapshot = await deliveries.snapshot_audience(
        db,
        shot_id,
        **audience,
        worker_id=BENCH_WORKER,
        now=now,
        first=SNAPSHOT_FIRST if chunked else None,
    )
    assert snapshot is not None
    first_s = time.perf_counter() - began
    if not snapshot.complete:
        await snapshot_chunks.continue_snapshot(
            db,
            shot_id,
            **audience,
            worker_id=BENCH_WORKER,
            now=now,
            chunk=SNAPSHOT_CHUNK,
            written=lambda _total: True,
        )
    seconds = time.perf_counter() - began
    total = (await shot_row(db, shot_id)).audience_total
    await remove_shot(db, shot_id)
    return {"audience": total, "seconds": seconds, "first_s": first_s}


async def add_shot(db: Database, now: datetime) -> int:
    """A `started` shot of the bot, due `now`; its id (the workers are woken)."""
    async with db.write(wake=True) as conn:
        values = {"bot_slug": SLUG, "target": "started", "copy": "<b>Oferta</b> só hoje"}
        added = insert(shots_queue).values(**values, scheduled_at=now)
        return int(await conn.scalar(added.returning(shots_queue.c.id)))


async def remove_shot(db: Database, shot_id: int) -> None:
    """Delete a shot nobody holds, with its deliveries."""
    async with db.write() as conn:
        await conn.execute(delete(shots_sent).where(shots_sent.c.shot_id == shot_id))
        await conn.execute(delete(shots_queue).where(shots_queue.c.id == shot_id))


async def shot_row(db: Database, shot_id: int) -> Any:
    async with db.read() as conn:
        q = shots_queue.c
        query = select(q.started_at, q.audience_total, q.audience_complete, q.locked_by)
        return (await conn.execute(query.where(q.id == shot_id))).one()


async def until(
    db: Database, shot_id: int, done: Callable[[Any], bool], *, timeout_s: float = 600.0
) -> Any:
    """The shot's row once `done` holds for it (read every 0.1 s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = await shot_row(db, shot_id)
        if done(row):
            return row
        await asyncio.sleep(0.1)
    raise SystemExit(f"shot {shot_id} did not get there in {timeout_s:.0f} s")


async def first_message_run(db: Database, sim: str, token: str, *, last: bool) -> dict[str, Any]:
    """One shot created due now for the waiting worker: claim → first message, claim →
    audience complete; paused and deleted afterwards unless it is the `last`."""
    sim_post(sim, "reset", {})
    sim_post(sim, f"bots/{token}/limits", {"paid_per_second": PAID_RATE})
    shot_id = await add_shot(db, datetime.now(UTC))
    row = await until(db, shot_id, lambda r: r.audience_total is not None and r.audience_complete)
    complete_at = time.time()
    times = sim_figures(sim, [token]).times
    started = row.started_at.timestamp()
    figures = {
        "audience": row.audience_total,
        "first_message_s": times[0] - started if times else None,
        "complete_s": complete_at - started,
        "messages_until_complete": len(times),
    }
    if not last:
        async with db.write(wake=True) as conn:
            await conn.execute(
                update(shots_queue).where(shots_queue.c.id == shot_id).values(status="paused")
            )
        await until(db, shot_id, lambda r: r.locked_by is None)
        await remove_shot(db, shot_id)
    return figures


async def first_messages_then_send(
    url: URL, sim: str, token: str, db: Database, args: argparse.Namespace
) -> dict[str, Any]:
    """One worker process: --runs first-message runs, then the last shot sends --send-s."""
    worker = WorkerProcess(url, sim)
    try:
        await worker.ready()
        runs = [
            await first_message_run(db, sim, token, last=n == args.runs - 1)
            for n in range(args.runs)
        ]
        sim_post(sim, "reset", {})
        sim_post(sim, f"bots/{token}/limits", {"paid_per_second": PAID_RATE})
        worker.mark()
        await asyncio.sleep(args.send_s)
        cpu_s = worker.cpu_since_mark()
    finally:
        sample = worker.stop()
    figures = sim_figures(sim, [token])
    samples = sample.rss_mb_samples
    firsts = sorted(r["first_message_s"] for r in runs)
    return {
        "runs": runs,
        "first_message_s": {"max": firsts[-1], "median": statistics.median(firsts)},
        "complete_s_median": statistics.median(r["complete_s"] for r in runs),
        "send": {
            "seconds": args.send_s,
            "messages": len(figures.times),
            "per_s": len(figures.times) / args.send_s,
            "http_429": figures.http_429,
            "duplicates": figures.duplicates,
            "cpu_s": cpu_s,
        },
        "rss_mb_median": statistics.median(samples) if samples else None,
        "peak_rss_mb": sample.peak_rss_mb,
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
    whole = await time_snapshot(db, chunked=False)
    chunked = await time_snapshot(db, chunked=True)
    streaming = await first_messages_then_send(url, sim, token, db, args)
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
        "snapshot_alone": {"whole": whole, "chunked": chunked},
        "streaming": streaming,
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
    parser.add_argument("--runs", type=int, default=5, help="shots timed to their first message")
    parser.add_argument("--send-s", type=float, default=60.0, help="how long the last one sends")
    parser.add_argument("--port", type=int, default=0, help="simulator port (0: a free one)")
    args = parser.parse_args()
    args.backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    print_setup(
        {
            "backends": args.backends,
            "contacts": args.contacts,
            "pix_events": args.pix_events,
            "payments": args.payments,
            "runs": args.runs,
            "send_s": args.send_s,
            "bot": {"rate_per_s": PAID_RATE, "paid_broadcast": True},
            "worker": "python -m disparo worker, its own process",
        }
    )
    results = run_with_simulator(args.port, lambda sim, _pid: main_async(args, sim))
    print(json.dumps({"results": jsonable(results)}, indent=1))


if __name__ == "__main__":
    main()
