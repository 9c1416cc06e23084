"""Audience filters at scale: estimates and snapshots narrowed by a filter, on one bot with
1,000,000 contacts, 1,000,000 funnel events, 300,000 payments and 100,000 tagged contacts.

On each backend (a fresh migrated database, bulk-loaded, then ANALYZE as bench/million.py does):

  estimates  for each filter below and without one: `estimate_audience_size` and
             `estimate_with_exclusions` (target `started`, no recency, no frequency cap), the
             first call and the median of the next 5, in milliseconds
  snapshots  `db.deliveries.snapshot_audience` of a `started` shot without a filter, then of one
             whose shots_queue.filter is set (a broad and a narrow filter), each into an empty
             shots_sent, in --snapshot-rounds rounds; seconds, their median, and each
             filtered median's ratio to the unfiltered one

Data (seeded, the same on both backends): contacts 95 % active, 4 % blocked, 1 % deactivated,
5 % never interacted, the rest over the last 120 days, languages pt-br/pt/es/en or unknown;
funnel events of six names (a quarter of them PIX events) at times spread over 120 days;
payments 50 % paid, 30 % created, 20 % expired, of six amounts (R$ 19,90 to R$ 497,00), created
over 120 days and paid within the hour; 100,000 contacts with one to three of six tags.

Prints the machine, the parameters and one JSON object per backend.

    .venv/bin/python bench/audience_filters.py [--backend both] [--contacts 1000000]
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
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert, text, update
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db import deliveries, leases
from disparo.db.audience import estimate_audience_size, estimate_with_exclusions
from disparo.db.engine import Database
from disparo.db.tables import bots, shots_queue
from disparo.domain.filters import parse_filter
from harness import print_setup
from throughput import Databases, jsonable, token_for

SLUG = "filtros"
BENCH_WORKER = "bench:filters"
DAY_S = 86400.0
ID0 = 10_000_000

# (name, share of the events); a quarter are PIX events.
EVENTS = (
    ("lead_captured", 0.30),
    ("checkout_open", 0.20),
    ("quiz_done", 0.15),
    ("video_watched", 0.10),
    ("pix_created", 0.15),
    ("checkout_pix_created", 0.10),
)
AMOUNTS_CENTS = (1990, 4990, 9700, 19700, 29700, 49700)
TAGS = (("curso-a", 0.30), ("aluno", 0.20), ("curso-b", 0.15), ("lead-frio", 0.15))
TAGS += (("vip", 0.10), ("black-friday", 0.10))
LANGUAGES = (("pt-br", 0.55), ("pt", 0.15), ("es", 0.10), ("en", 0.12), (None, 0.08))

# Three-leaf filters the admin page builds; each is timed as an estimate.
FILTERS: dict[str, Any] = {
    "tag_recent_pix_unpaid": {
        "all": [{"tag": "curso-a"}, {"last_pix": {"within_days": 3}}, {"not": {"paid": {}}}]
    },
    "spent_200_pt_not_vip": {
        "all": [
            {"total_paid": {"min_cents": 20_000}},
            {"language": ["pt"]},
            {"not": {"tag": "vip"}},
        ]
    },
    "checkout_7d_unpaid_active": {
        "all": [
            {"event": {"name": "checkout_open", "within_days": 7}},
            {"not": {"paid": {"within_days": 7}}},
            {"interacted": {"within_days": 30}},
        ]
    },
    "any_vip_big_quiz": {
        "any": [
            {"tag": "vip"},
            {"paid": {"min_cents": 29_700}},
            {"event": {"name": "quiz_done", "within_days": 14}},
        ]
    },
}
# Snapshots: a filter that keeps most of the audience, and one that keeps a sliver.
SNAPSHOT_FILTERS: dict[str, Any] = {
    "broad": {
        "all": [
            {"not": {"tag": "lead-frio"}},
            {"not": {"paid": {"within_days": 7}}},
            {"not": {"received_shot": {"within_hours": 24}}},
        ]
    },
    "narrow": FILTERS["tag_recent_pix_unpaid"],
}


def _sqlite_time(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC text), as bench/million.py writes it
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _weighted(rng: random.Random, choices: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


def _ago(now: datetime, rng: random.Random, days: float) -> datetime:
    return now - timedelta(seconds=rng.uniform(0, days * DAY_S))


def contact_rows(count: int, now: datetime, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """(telegram_id, chat_state, language_code, started_at, last_interaction_at)."""
    for n in range(count):
        roll = rng.random()
        state = "active" if roll < 0.95 else "blocked" if roll < 0.99 else "deactivated"
        started = _ago(now, rng, 365)
        last = None if rng.random() < 0.05 else max(started, _ago(now, rng, 120))
        yield ID0 + n, state, _weighted(rng, LANGUAGES), started, last


def event_rows(
    contacts: int, count: int, now: datetime, rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    """(telegram_id, event, occurred_at) of `count` events of random contacts."""
    for _ in range(count):
        yield ID0 + rng.randrange(contacts), _weighted(rng, EVENTS), _ago(now, rng, 120)


def payment_rows(
    contacts: int, count: int, now: datetime, rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    """(telegram_id, external_id, status, amount_cents, created_at, paid_at)."""
    for n in range(count):
        roll = rng.random()
        status = "paid" if roll < 0.5 else "created" if roll < 0.8 else "expired"
        created = _ago(now, rng, 120)
        paid_at = created + timedelta(seconds=rng.uniform(30, 3600)) if status == "paid" else None
        if paid_at is not None and paid_at > now:
            paid_at = now
        amount = rng.choice(AMOUNTS_CENTS)
        yield ID0 + rng.randrange(contacts), f"pay-{n}", status, amount, created, paid_at


def tag_rows(contacts: int, tagged: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """(telegram_id, tag): `tagged` contacts with one to three distinct tags each."""
    for n in rng.sample(range(contacts), tagged):
        wanted = rng.choice((1, 1, 1, 2, 2, 3))
        for tag in dict.fromkeys(_weighted(rng, TAGS) for _ in range(wanted)):
            yield ID0 + n, tag


def load_postgresql(url: URL, args: argparse.Namespace, now: datetime) -> float:
    """COPY the contacts, events, payments and tags; VACUUM ANALYZE; seconds it took."""
    rng = random.Random(11)
    began = time.monotonic()
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    copies: list[tuple[str, Iterator[tuple[Any, ...]]]] = [
        (
            "telegram_contacts (bot_slug, telegram_id, chat_state, language_code, started_at,"
            " last_interaction_at, updated_at)",
            ((SLUG, *row, now) for row in contact_rows(args.contacts, now, rng)),
        ),
        (
            "funnel_events (bot_slug, telegram_id, event, occurred_at)",
            ((SLUG, *row) for row in event_rows(args.contacts, args.events, now, rng)),
        ),
        (
            "payment_transactions (bot_slug, telegram_id, external_id, status, amount_cents,"
            " created_at, paid_at)",
            ((SLUG, *row) for row in payment_rows(args.contacts, args.payments, now, rng)),
        ),
        (
            "contact_tags (bot_slug, telegram_id, tag)",
            ((SLUG, *row) for row in tag_rows(args.contacts, args.tagged, rng)),
        ),
    ]
    with psycopg.connect(conninfo) as conn:
        with conn.cursor() as cur:
            for target, rows in copies:
                with cur.copy(f"COPY {target} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute(
            "VACUUM ANALYZE telegram_contacts, funnel_events, payment_transactions, contact_tags"
        )
    return time.monotonic() - began


def load_sqlite(url: URL, args: argparse.Namespace, now: datetime) -> float:
    """One executemany transaction per table; ANALYZE; seconds it took."""
    rng = random.Random(11)
    began = time.monotonic()
    t = _sqlite_time
    conn = sqlite3.connect(str(url.database), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO telegram_contacts (bot_slug, telegram_id, chat_state, language_code,"
            " started_at, last_interaction_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (SLUG, tid, state, language, t(started), t(last), t(now))
                for tid, state, language, started, last in contact_rows(args.contacts, now, rng)
            ),
        )
        conn.executemany(
            "INSERT INTO funnel_events (bot_slug, telegram_id, event, occurred_at)"
            " VALUES (?, ?, ?, ?)",
            (
                (SLUG, tid, name, t(at))
                for tid, name, at in event_rows(args.contacts, args.events, now, rng)
            ),
        )
        conn.executemany(
            "INSERT INTO payment_transactions (bot_slug, telegram_id, external_id, status,"
            " amount_cents, created_at, paid_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (SLUG, tid, external, status, cents, t(created), t(paid))
                for tid, external, status, cents, created, paid in payment_rows(
                    args.contacts, args.payments, now, rng
                )
            ),
        )
        conn.executemany(
            "INSERT INTO contact_tags (bot_slug, telegram_id, tag) VALUES (?, ?, ?)",
            ((SLUG, *row) for row in tag_rows(args.contacts, args.tagged, rng)),
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return time.monotonic() - began


async def _timed(db: Database, runs: int, call: Callable[[Any], Awaitable[Any]]) -> dict[str, Any]:
    """The result of `call(conn)`, its first call and the median of the next `runs`, in ms."""
    timings, result = [], None
    for _ in range(runs + 1):
        async with db.read() as conn:
            began = time.perf_counter()
            result = await call(conn)
            timings.append((time.perf_counter() - began) * 1000)
    return {
        "result": result,
        "first_ms": timings[0],
        "median_ms": statistics.median(timings[1:]),
        "max_ms": max(timings[1:]),
    }


async def time_estimates(db: Database, now: datetime, runs: int) -> dict[str, Any]:
    """Each filter (and none): both estimates, as `_timed` reports them."""
    results: dict[str, Any] = {}
    for name, tree in {"none": None, **FILTERS}.items():
        narrowing = None if tree is None else parse_filter(tree)

        async def size(conn: Any, narrowing: Any = narrowing) -> int:
            return await estimate_audience_size(conn, SLUG, "started", now=now, narrowing=narrowing)

        async def exclusions(conn: Any, narrowing: Any = narrowing) -> dict[str, int]:
            found = await estimate_with_exclusions(
                conn, SLUG, "started", now=now, narrowing=narrowing
            )
            return {"count": found.count, "filter": found.filter}

        results[name] = {
            "estimate_audience_size": await _timed(db, runs, size),
            "estimate_with_exclusions": await _timed(db, runs, exclusions),
        }
        print(name, json.dumps(jsonable(results[name])), file=sys.stderr, flush=True)
    return results


async def time_snapshot(db: Database, tree: Any, now: datetime) -> tuple[int, float]:
    """Snapshot a `started` shot narrowed by `tree` (or not) into an empty shots_sent at `now`
    (the data's, so that every run keeps the same contacts), timed around the call; the shot is
    cancelled afterwards. (audience, seconds)."""
    async with db.write() as conn:
        await conn.execute(text("DELETE FROM shots_sent"))  # TRUNCATE-fast on both backends
        await conn.execute(
            insert(shots_queue).values(
                bot_slug=SLUG, target="started", copy="Oferta", scheduled_at=now, filter=tree
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
    async with db.write() as conn:
        await conn.execute(
            update(shots_queue)
            .where(shots_queue.c.id == claimed.id)
            .values(status="cancelled", locked_by=None, lease_expires_at=None)
        )
    return (snapshot.total if snapshot else 0), seconds


async def time_snapshots(db: Database, now: datetime, rounds: int) -> dict[str, Any]:
    """`rounds` rounds of: unfiltered, then each snapshot filter; the seconds of each, their
    median, and each filtered median's ratio to the unfiltered one."""
    kinds: dict[str, Any] = {"unfiltered": None, **SNAPSHOT_FILTERS}
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    audience: dict[str, int] = {}
    for _ in range(rounds):
        for kind, tree in kinds.items():
            audience[kind], took = await time_snapshot(db, tree, now)
            seconds[kind].append(took)
    plain = statistics.median(seconds["unfiltered"])
    return {
        kind: {
            "audience": audience[kind],
            "seconds": seconds[kind],
            "median_s": statistics.median(seconds[kind]),
            "ratio": statistics.median(seconds[kind]) / plain,
        }
        for kind in kinds
    }


async def run(args: argparse.Namespace, backend: str, databases: Databases) -> dict[str, Any]:
    url = databases.fresh(backend, "filters")
    db = Database(url)
    now = datetime.now(UTC)
    token = token_for(random.randrange(10**9, 10**10))
    async with db.write() as conn:
        await conn.execute(insert(bots).values(slug=SLUG, token=token, webhook_secret="s" * 24))
    loader = load_postgresql if backend == "postgresql" else load_sqlite
    load_s = loader(url, args, now)
    try:
        estimates = await time_estimates(db, now, args.runs)
        snapshots = await time_snapshots(db, now, args.snapshot_rounds) if args.snapshots else None
    finally:
        await db.dispose()
    return {
        "backend": backend,
        "load_s": load_s,
        "estimates": estimates,
        "snapshots": snapshots,
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    databases = Databases()
    results = []
    try:
        for backend in args.backends:
            result = await run(args, backend, databases)
            print(json.dumps(jsonable(result)), flush=True)
            results.append(result)
    finally:
        databases.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=300_000)
    parser.add_argument("--tagged", type=int, default=100_000, help="contacts with tags")
    parser.add_argument("--runs", type=int, default=5, help="timed calls after the first")
    parser.add_argument("--snapshot-rounds", type=int, default=2, help="each snapshot's runs")
    parser.add_argument("--no-snapshots", dest="snapshots", action="store_false")
    args = parser.parse_args()
    args.backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    print_setup(
        {
            "backends": args.backends,
            "contacts": args.contacts,
            "events": args.events,
            "payments": args.payments,
            "tagged": args.tagged,
            "runs": args.runs,
            "snapshot_rounds": args.snapshot_rounds,
            "filters": FILTERS,
            "snapshot_filters": SNAPSHOT_FILTERS,
        }
    )
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
