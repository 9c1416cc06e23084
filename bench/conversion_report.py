"""Conversion report at scale: one A/B shot of 1,000,000 recipients, 1,000,000 PIX funnel events
and 500,000 payments written through the conversion triggers, then the report and the CSV.

On each backend (a fresh SQLite file under /tmp, a fresh PostgreSQL database, both migrated and
removed afterwards):

  setup    a bot and its contacts (one per recipient); a shot with variants A and B (50/50), a
           10 % holdout and the conversion events paid (72 h, the primary) and pix_created
           (72 h), as `db.experiment.write_experiment` stores them; its shots_sent rows as the
           snapshot and the worker leave them: seq 1..N, the group `domain.experiment.Split`
           gives each bucket, status sent with sent_at spread over 2 hours, holdout members
           status holdout with updated_at at their turn
  probe    --probe events and half as many payments (taken across the arrival times) written
           one per transaction on the tables as the snapshot leaves them: never ANALYZEd on
           SQLite (Disparo never does it), not yet visited by autovacuum on PostgreSQL; ms per
           row. Then ANALYZE, as PostgreSQL's autovacuum does after a snapshot of this size
           (--no-analyze-before-load skips it; on SQLite nothing in Disparo does it today)
  load     the funnel events (pix_created; ~60 % of recipients, some twice or more), then the
           payments (paid, ~40 % of recipients, some twice; 1,000–50,000 cents), each within
           72 h of its recipient's delivery or turn, in arrival order and in chunks of
           --chunk rows, one transaction each, as an import or a busy webhook writes them
           (PostgreSQL: COPY, so each chunk fires the statement triggers once; SQLite:
           executemany, row triggers); rows/s. Then the last --single events and payments one
           row per transaction, as the webhook writes them one by one (ms per row). Then a
           tenth of the volume for a second bot without any shot goal, the same way: the same
           inserts with no conversion work, to show what the triggers cost
  report   GET /admin/api/shots/{id}/conversions's code (the route function, its JSON encoded):
           the first call and the median and p95 of --runs more (scipy, which a server
           process imports on its first report, is imported beforehand and timed apart);
           the two GROUP BY queries (`group_facts`) and the series alone; their plans
           (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite), captured from the
           statements the route ran
  csv      GET …/conversions.csv's code (the route's streamed pages of 5,000) for the first
           --csv-rows rows; rows/s

The report and the CSV are measured twice: as loaded (PostgreSQL's autovacuum may or may not
have visited the tables yet; Disparo never ANALYZEs SQLite), then after VACUUM ANALYZE
(PostgreSQL) or ANALYZE (SQLite).

Prints the machine, the parameters and one JSON object per backend.

    .venv/bin/python bench/conversion_report.py [--backend both] [--recipients 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.api.routes.conversions import export_conversions, shot_conversions
from disparo.db import conversions as queries
from disparo.db.engine import Database
from disparo.db.experiment import write_experiment
from disparo.db.tables import bots, shots_queue
from disparo.db.tables_campaign import shot_conversions as conversions_table
from disparo.domain.experiment import HOLDOUT, Goal, Split, Variant, bucket
from throughput import Databases, jsonable, machine, token_for

SLUG = "ofertas"
BASELINE_SLUG = "sem-metas"  # a bot without any shot goal: the same inserts, no conversion work
ID0 = 10_000_000
BASELINE_ID0 = 50_000_000
HOLDOUT_PERCENT = 10
SEND_S = 2 * 3600  # the shot's deliveries are spread over two hours
WINDOW_H = 72
GOALS = (Goal("paid", WINDOW_H), Goal("pix_created", WINDOW_H))
VARIANTS = (
    Variant("A", "<b>Oferta</b> só hoje: 30 % off", "none", None, None, 50),
    Variant("B", "Última chance: <b>30 % off</b> até meia-noite", "none", None, None, 50),
)
# A planted effect: each group's share of recipients with a PIX event and with a payment.
PIX_SHARE = {"A": 0.60, "B": 0.63, HOLDOUT: 0.52}
PAID_SHARE = {"A": 0.40, "B": 0.43, HOLDOUT: 0.33}
AMOUNT_CENTS = (1_000, 50_000)
EVENT_COLUMNS = "(bot_slug, telegram_id, event, occurred_at)"
PAYMENT_COLUMNS = "(bot_slug, telegram_id, external_id, status, amount_cents, created_at, paid_at)"


@dataclass(frozen=True, slots=True)
class Recipient:
    """One shots_sent row as the bench writes it."""

    seq: int
    telegram_id: int
    group: str
    reached_at: datetime  # sent_at, or a holdout member's turn


@dataclass
class Data:
    """Everything loaded, generated once per backend from the same seed."""

    recipients: list[Recipient]
    events: list[tuple[Any, ...]]  # (bot_slug, telegram_id, event, occurred_at), arrival order
    payments: list[tuple[Any, ...]]  # PAYMENT_COLUMNS, arrival order


def sqlite_time(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC text), as bench/million.py writes it
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# Data ----------------------------------------------------------------------------------------


def audience(count: int, shot_id: int, split: Split, t0: datetime, id0: int) -> list[Recipient]:
    """The shot's recipients in send order: Telegram ids shuffled (the send order does not follow
    them), each group as the snapshot assigns it, reached evenly over SEND_S."""
    ids = list(range(id0, id0 + count))
    random.Random(shot_id).shuffle(ids)
    step_s = SEND_S / count
    return [
        Recipient(
            seq,
            tid,
            split.group(bucket(shot_id, tid)) or "?",
            t0 + timedelta(seconds=(seq - 1) * step_s),
        )
        for seq, tid in enumerate(ids, start=1)
    ]


def _in_window(rng: random.Random, reached: datetime, margin_s: float = 0.0) -> datetime:
    """A time after `reached` and inside its window (leaving `margin_s` before it closes)."""
    return reached + timedelta(seconds=rng.uniform(1.0, WINDOW_H * 3600 - 1.0 - margin_s))


def _takers(
    rng: random.Random, recipients: Sequence[Recipient], share: dict[str, float], total: int
) -> list[Recipient]:
    """`total` picks: first one per recipient that converts (each group at its share), then
    repeats of random converters up to `total`."""
    first = [r for r in recipients if rng.random() < share.get(r.group, 0.5)][:total]
    repeats = [rng.choice(first) for _ in range(total - len(first))] if first else []
    return first + repeats


def event_rows(
    rng: random.Random, slug: str, recipients: Sequence[Recipient], total: int
) -> list[tuple[Any, ...]]:
    """`total` pix_created events, by arrival time (distinct per recipient and instant, as the
    funnel's unique key requires)."""
    seen: set[tuple[int, datetime]] = set()
    rows = []
    for r in _takers(rng, recipients, PIX_SHARE, total):
        at = _in_window(rng, r.reached_at)
        while (r.telegram_id, at) in seen:
            at += timedelta(microseconds=1)
        seen.add((r.telegram_id, at))
        rows.append((slug, r.telegram_id, "pix_created", at))
    rows.sort(key=lambda row: row[3])
    return rows


def payment_rows(
    rng: random.Random, slug: str, recipients: Sequence[Recipient], total: int
) -> list[tuple[Any, ...]]:
    """`total` paid payments by arrival (paid) time: created inside the window, paid 30 s to
    30 min later, still inside it."""
    rows = []
    for n, r in enumerate(_takers(rng, recipients, PAID_SHARE, total)):
        created = _in_window(rng, r.reached_at, margin_s=1800.0)
        paid = created + timedelta(seconds=rng.uniform(30.0, 1800.0))
        cents = rng.randint(*AMOUNT_CENTS)
        rows.append((slug, r.telegram_id, f"{slug}-{n}", "paid", cents, created, paid))
    rows.sort(key=lambda row: row[6])
    return rows


def generate(
    slug: str,
    count: int,
    events: int,
    payments: int,
    shot_id: int,
    split: Split | None,
    t0: datetime,
    id0: int,
) -> Data:
    rng = random.Random(f"{slug}-{count}")
    if split is None:  # the baseline bot: contacts reached at t0 by no shot of its own
        people = [Recipient(n + 1, id0 + n, "?", t0) for n in range(count)]
    else:
        people = audience(count, shot_id, split, t0, id0)
    return Data(
        people,
        event_rows(rng, slug, people, events),
        payment_rows(rng, slug, people, payments),
    )


# Loading -------------------------------------------------------------------------------------


def _chunks(rows: Sequence[tuple[Any, ...]], size: int) -> Iterator[Sequence[tuple[Any, ...]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _rate(rows: int, seconds: float) -> dict[str, Any]:
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds if seconds else None}


def _per_row(timings_ms: list[float]) -> dict[str, Any]:
    if not timings_ms:
        return {"rows": 0}
    return {
        "rows": len(timings_ms),
        "median_ms": statistics.median(timings_ms),
        "p95_ms": _p95(timings_ms),
        "max_ms": max(timings_ms),
    }


def _p95(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


class PostgresLoader:
    """COPY in chunks, one transaction each (a statement trigger run per chunk)."""

    def __init__(self, url: URL) -> None:
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(conninfo)

    def close(self) -> None:
        self.conn.close()

    def _copy(self, target: str, rows: Sequence[tuple[Any, ...]]) -> None:
        with self.conn.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def bulk(self, target: str, rows: Sequence[tuple[Any, ...]], chunk: int) -> float:
        began = time.perf_counter()
        for part in _chunks(rows, chunk):
            self._copy(target, part)
            self.conn.commit()
        return time.perf_counter() - began

    def one_by_one(self, table: str, columns: str, rows: Sequence[tuple[Any, ...]]) -> list[float]:
        marks = ", ".join(["%s"] * len(rows[0])) if rows else ""
        sql = f"INSERT INTO {table} {columns} VALUES ({marks})"
        timings = []
        for row in rows:
            began = time.perf_counter()
            self.conn.execute(sql, row)
            self.conn.commit()
            timings.append((time.perf_counter() - began) * 1000)
        return timings

    def contacts(self, slug: str, people: Sequence[Recipient], now: datetime) -> None:
        self._copy(
            "telegram_contacts (bot_slug, telegram_id, last_interaction_at, updated_at)",
            [(slug, r.telegram_id, r.reached_at, now) for r in people],
        )
        self.conn.commit()

    def deliveries(self, shot_id: int, slug: str, people: Sequence[Recipient]) -> None:
        self._copy(
            "shots_sent (shot_id, bot_slug, telegram_id, seq, status, attempts, message_id,"
            " sent_at, updated_at, variant)",
            [_delivery(shot_id, slug, r) for r in people],
        )
        self.conn.commit()

    def analyze(self, *, vacuum: bool) -> None:
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
        self.conn.autocommit = False


class SqliteLoader:
    """executemany in chunks, one transaction each (row triggers), on a connection set up as the
    app's (WAL, synchronous NORMAL, foreign keys on)."""

    def __init__(self, url: URL) -> None:
        self.conn = sqlite3.connect(str(url.database), isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            self.conn.execute(f"PRAGMA {pragma}")

    def close(self) -> None:
        self.conn.close()

    @staticmethod
    def _text(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [tuple(sqlite_time(v) if isinstance(v, datetime) else v for v in r) for r in rows]

    def _insert(self, target: str, rows: Sequence[tuple[Any, ...]]) -> None:
        marks = ", ".join(["?"] * len(rows[0]))
        self.conn.executemany(f"INSERT INTO {target} VALUES ({marks})", rows)

    def bulk(self, target: str, rows: Sequence[tuple[Any, ...]], chunk: int) -> float:
        converted = self._text(rows)  # outside the timing: the driver's work, not the database's
        began = time.perf_counter()
        for part in _chunks(converted, chunk):
            self.conn.execute("BEGIN")
            self._insert(target, part)
            self.conn.execute("COMMIT")
        return time.perf_counter() - began

    def one_by_one(self, table: str, columns: str, rows: Sequence[tuple[Any, ...]]) -> list[float]:
        timings = []
        for row in self._text(rows):
            began = time.perf_counter()
            self.conn.execute("BEGIN IMMEDIATE")
            self._insert(f"{table} {columns}", [row])
            self.conn.execute("COMMIT")
            timings.append((time.perf_counter() - began) * 1000)
        return timings

    def contacts(self, slug: str, people: Sequence[Recipient], now: datetime) -> None:
        self.conn.execute("BEGIN")
        self._insert(
            "telegram_contacts (bot_slug, telegram_id, last_interaction_at, updated_at)",
            self._text([(slug, r.telegram_id, r.reached_at, now) for r in people]),
        )
        self.conn.execute("COMMIT")

    def deliveries(self, shot_id: int, slug: str, people: Sequence[Recipient]) -> None:
        self.conn.execute("BEGIN")
        self._insert(
            "shots_sent (shot_id, bot_slug, telegram_id, seq, status, attempts, message_id,"
            " sent_at, updated_at, variant)",
            self._text([_delivery(shot_id, slug, r) for r in people]),
        )
        self.conn.execute("COMMIT")

    def analyze(self, *, vacuum: bool) -> None:  # SQLite has no VACUUM ANALYZE; both do one
        self.conn.execute("ANALYZE")


def _delivery(shot_id: int, slug: str, r: Recipient) -> tuple[Any, ...]:
    if r.group == HOLDOUT:  # never sent; its turn is when the worker passed it
        return (
            shot_id,
            slug,
            r.telegram_id,
            r.seq,
            "holdout",
            0,
            None,
            None,
            r.reached_at,
            r.group,
        )
    return (
        shot_id,
        slug,
        r.telegram_id,
        r.seq,
        "sent",
        1,
        r.seq,
        r.reached_at,
        r.reached_at,
        r.group,
    )


def _spread(rows: list[tuple[Any, ...]], count: int) -> tuple[list[Any], list[Any]]:
    """`count` rows taken evenly across `rows` (in time order), and the others."""
    if count <= 0 or not rows:
        return [], rows
    step = max(1, len(rows) // count)
    taken = set(range(step // 2, len(rows), step)[:count])
    return [r for i, r in enumerate(rows) if i in taken], [
        r for i, r in enumerate(rows) if i not in taken
    ]


def load_sources(
    loader: Any, data: Data, args: argparse.Namespace, *, probe: bool
) -> dict[str, Any]:
    """With `probe`: --probe events and half as many payments, taken across the arrival times,
    one per transaction on the tables as the snapshot left them (never ANALYZEd on SQLite);
    then ANALYZE unless --no-analyze-before-load. Then the events and the payments in chunks,
    then the last --single events and half as many payments one per transaction."""
    result: dict[str, Any] = {}
    events, payments = data.events, data.payments
    if probe:
        probe_events, events = _spread(events, args.probe)
        probe_payments, payments = _spread(payments, args.probe // 2)
        result["probe_before_analyze"] = {
            "funnel_event": _per_row(
                loader.one_by_one("funnel_events", EVENT_COLUMNS, probe_events)
            ),
            "payment": _per_row(
                loader.one_by_one("payment_transactions", PAYMENT_COLUMNS, probe_payments)
            ),
        }
        print("  probe", json.dumps(jsonable(result["probe_before_analyze"])), file=sys.stderr)
        if args.analyze_before_load:
            began = time.perf_counter()
            loader.analyze(vacuum=False)
            result["analyze_before_load_s"] = time.perf_counter() - began
    single_events = min(args.single, len(events))
    single_payments = min(args.single // 2, len(payments))
    bulk_events = events[: len(events) - single_events]
    bulk_payments = payments[: len(payments) - single_payments]
    load_before = load_average()
    events_s = loader.bulk(f"funnel_events {EVENT_COLUMNS}", bulk_events, args.chunk)
    print(f"  events: {len(bulk_events)} in {events_s:.1f} s", file=sys.stderr, flush=True)
    payments_s = loader.bulk(f"payment_transactions {PAYMENT_COLUMNS}", bulk_payments, args.chunk)
    print(f"  payments: {len(bulk_payments)} in {payments_s:.1f} s", file=sys.stderr, flush=True)
    one_events = loader.one_by_one("funnel_events", EVENT_COLUMNS, events[len(bulk_events) :])
    one_payments = loader.one_by_one(
        "payment_transactions", PAYMENT_COLUMNS, payments[len(bulk_payments) :]
    )
    total_s = events_s + payments_s
    return result | {
        "chunk_rows": args.chunk,
        "funnel_events": _rate(len(bulk_events), events_s),
        "payments": _rate(len(bulk_payments), payments_s),
        "both": _rate(len(bulk_events) + len(bulk_payments), total_s),
        "single_row_funnel_event": _per_row(one_events),
        "single_row_payment": _per_row(one_payments),
        "load_average": [load_before, load_average()],
    }


# Report and CSV ------------------------------------------------------------------------------


class Statements:
    """The SQL a read connection ran, with its parameters (to EXPLAIN what the route ran)."""

    def __init__(self, db: Database) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.on = False
        event.listen(db.reader.sync_engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on:
            self.seen.append((statement, parameters))


async def time_route(db: Database, shot_id: int, now: datetime, runs: int) -> dict[str, Any]:
    """The route's function (its own read transaction) and the JSON of its answer."""
    timings, body = [], ""
    for _ in range(runs + 1):
        began = time.perf_counter()
        answer = await shot_conversions(shot_id, db, now)
        body = json.dumps(answer, ensure_ascii=False)
        timings.append((time.perf_counter() - began) * 1000)
    report = json.loads(body)
    return {
        "first_ms": timings[0],
        "median_ms": statistics.median(timings[1:]),
        "p95_ms": _p95(timings[1:]),
        "max_ms": max(timings[1:]),
        "json_bytes": len(body.encode()),
        "series_points": len(report["series"]["points"]),
        "bucket_s": report["series"]["bucket_s"],
        "groups": {
            g["name"]: {
                "recipients": g["recipients"],
                "delivered": g["delivered"],
                "conversions": g["conversions"],
                "revenue_cents": g["revenue_cents"],
                "significant": g["significant"],
            }
            for g in report["groups"]
        },
        "summary_en": report["summary"]["en"],
    }


async def time_queries(db: Database, shot_id: int, runs: int) -> dict[str, Any]:
    """`group_facts` (its two GROUP BY queries) and `conversion_series`, each alone: median ms."""
    facts, series = [], []
    for _ in range(runs):
        async with db.read() as conn:
            began = time.perf_counter()
            await queries.group_facts(conn, shot_id, unassigned="all")
            facts.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            await queries.conversion_series(
                conn, shot_id, GOALS[0].event, bucket_s=3600, unassigned="all"
            )
            series.append((time.perf_counter() - began) * 1000)
    return {
        "group_facts_median_ms": statistics.median(facts),
        "conversion_series_median_ms": statistics.median(series),
    }


async def explain(db: Database, statements: Statements, shot_id: int, now: datetime) -> list[Any]:
    """The plan of each GROUP BY statement one route call runs, with its real parameters."""
    statements.seen.clear()
    statements.on = True
    try:
        await shot_conversions(shot_id, db, now)
    finally:
        statements.on = False
    plans = []
    for statement, parameters in statements.seen:
        if "GROUP BY" not in statement:
            continue
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
        async with db.read() as conn:
            rows = (await conn.exec_driver_sql(prefix + statement, parameters)).all()
        plan = [" | ".join(str(v) for v in row[-1:]) for row in rows]
        plans.append({"sql": " ".join(statement.split()), "plan": plan})
    return plans


async def time_csv(db: Database, shot_id: int, rows: int) -> dict[str, Any]:
    """The CSV route's stream until `rows` data rows (pages of 5,000, each its own read)."""
    began = time.perf_counter()
    response = await export_conversions(shot_id, db)
    lines, size = -1, 0  # the header is not a row
    stream = response.body_iterator
    async for chunk in stream:
        text = chunk if isinstance(chunk, str) else chunk.decode()
        lines += text.count("\n")
        size += len(text)
        if lines >= rows:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    seconds = time.perf_counter() - began
    return {"rows": lines, "bytes": size, "seconds": seconds, "rows_per_s": lines / seconds}


async def measure(
    db: Database, statements: Statements, shot_id: int, now: datetime, args: argparse.Namespace
) -> dict[str, Any]:
    result: dict[str, Any] = {"load_average": load_average()}
    result["report"] = await time_route(db, shot_id, now, args.runs)
    print("  report", json.dumps(jsonable(result["report"])), file=sys.stderr, flush=True)
    result["queries"] = await time_queries(db, shot_id, args.runs)
    result["plans"] = await explain(db, statements, shot_id, now)
    result["csv"] = [await time_csv(db, shot_id, args.csv_rows) for _ in range(2)]
    print("  csv", json.dumps(jsonable(result["csv"])), file=sys.stderr, flush=True)
    return result


async def autovacuum_seen(db: Database) -> dict[str, Any] | None:
    """When PostgreSQL's autovacuum last visited the report's tables (None on SQLite)."""
    if db.is_sqlite:
        return None
    async with db.read() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT relname, last_autovacuum, last_autoanalyze, n_live_tup, n_dead_tup"
            " FROM pg_stat_user_tables WHERE relname IN ('shots_sent', 'shot_conversions')"
        )
        return {
            r[0]: {
                "last_autovacuum": r[1].isoformat() if r[1] else None,
                "last_autoanalyze": r[2].isoformat() if r[2] else None,
                "live": r[3],
                "dead": r[4],
            }
            for r in rows
        }


# Run -----------------------------------------------------------------------------------------


async def create_shot(db: Database, count: int, t0: datetime) -> int:
    """A bot and its sent A/B shot with a holdout and two conversion events; the shot's id."""
    async with db.write() as conn:
        for slug in (SLUG, BASELINE_SLUG):
            token = token_for(random.randrange(10**9, 10**10))
            await conn.execute(insert(bots).values(slug=slug, token=token, webhook_secret="s" * 24))
        shot_id = (
            await conn.execute(
                insert(shots_queue)
                .values(
                    bot_slug=SLUG,
                    target="started",
                    copy=VARIANTS[0].copy,
                    scheduled_at=t0,
                    status="sent",
                    audience_total=count,
                    started_at=t0,
                    finished_at=t0 + timedelta(seconds=SEND_S),
                    holdout_percent=HOLDOUT_PERCENT,
                )
                .returning(shots_queue.c.id)
            )
        ).scalar_one()
        await write_experiment(conn, shot_id, SLUG, variants=VARIANTS, goals=GOALS)
    return int(shot_id)


async def conversions_written(db: Database, shot_id: int) -> dict[str, int]:
    """Conversions the triggers wrote, per event and group."""
    c = conversions_table.c
    query = (
        select(c.event, c.variant, func.count())
        .where(c.shot_id == shot_id)
        .group_by(c.event, c.variant)
    )
    async with db.read() as conn:
        return {f"{e}/{v}": int(n) for e, v, n in await conn.execute(query)}


async def sent_indexes(db: Database) -> list[str] | None:
    """shots_sent's indexes in creation order (SQLite's planner breaks ties between equally
    rated indexes by it while a table has no statistics); None on PostgreSQL."""
    if not db.is_sqlite:
        return None
    async with db.read() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'shots_sent'"
        )
        return [r[0] for r in rows]


async def run(args: argparse.Namespace, backend: str, databases: Databases) -> dict[str, Any]:
    url = databases.fresh(backend, "conversions")
    db = Database(url)
    statements = Statements(db)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(days=4)  # every window closed: the report's final figures
    loader: Any = PostgresLoader(url) if backend == "postgresql" else SqliteLoader(url)
    try:
        began = time.perf_counter()
        shot_id = await create_shot(db, args.recipients, t0)
        split = Split.of(arms=tuple(v.arm for v in VARIANTS), holdout_percent=HOLDOUT_PERCENT)
        assert split is not None
        data = generate(SLUG, args.recipients, args.events, args.payments, shot_id, split, t0, ID0)
        share = args.recipients // 10
        baseline = generate(
            BASELINE_SLUG,
            share,
            args.events // 10,
            args.payments // 10,
            0,
            None,
            t0,
            BASELINE_ID0,
        )
        generate_s = time.perf_counter() - began
        print(f"{backend}: generated in {generate_s:.1f} s", file=sys.stderr, flush=True)
        began = time.perf_counter()
        loader.contacts(SLUG, data.recipients, now)
        loader.contacts(BASELINE_SLUG, baseline.recipients, now)
        loader.deliveries(shot_id, SLUG, data.recipients)
        setup_s = time.perf_counter() - began
        print(f"{backend}: contacts and deliveries in {setup_s:.1f} s", file=sys.stderr, flush=True)
        load = load_sources(loader, data, args, probe=True)
        print(f"{backend}: load", json.dumps(jsonable(load)), file=sys.stderr, flush=True)
        without = load_sources(loader, baseline, args, probe=False)
        print(f"{backend}: baseline", json.dumps(jsonable(without)), file=sys.stderr, flush=True)
        written = await conversions_written(db, shot_id)
        indexes = await sent_indexes(db)
        as_loaded = {"autovacuum": await autovacuum_seen(db)}
        as_loaded |= await measure(db, statements, shot_id, now, args)
        began = time.perf_counter()
        loader.analyze(vacuum=True)
        analyze_s = time.perf_counter() - began
        analyzed = {"analyze_s": analyze_s} | await measure(db, statements, shot_id, now, args)
    finally:
        loader.close()
        await db.dispose()
    groups: dict[str, int] = {}
    for r in data.recipients:
        groups[r.group] = groups.get(r.group, 0) + 1
    return {
        "backend": backend,
        "recipients": args.recipients,
        "groups": groups,
        "funnel_events": len(data.events),
        "payments": len(data.payments),
        "generate_s": generate_s,
        "contacts_and_deliveries_s": setup_s,
        "load": load,
        "load_without_goals": without,
        "conversions_written": written,
        "shots_sent_indexes": indexes,
        "as_loaded": as_loaded,
        "analyzed": analyzed,
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
        if args.keep:
            print("kept:", databases.tmp, databases.pg_names, file=sys.stderr, flush=True)
        else:
            databases.close()
            shutil.rmtree(databases.tmp, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, help="funnel events (default: --recipients)")
    parser.add_argument("--payments", type=int, help="payments (default: --recipients / 2)")
    parser.add_argument("--chunk", type=int, default=5000, help="rows per insert transaction")
    parser.add_argument(
        "--single", type=int, default=1000, help="events (and half as many payments) one by one"
    )
    parser.add_argument("--probe", type=int, default=200, help="events timed before ANALYZE")
    parser.add_argument(
        "--no-analyze-before-load",
        dest="analyze_before_load",
        action="store_false",
        help="load on tables never ANALYZEd (SQLite may then scan the bot's deliveries per event)",
    )
    parser.add_argument("--runs", type=int, default=10, help="timed calls after the first")
    parser.add_argument("--csv-rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="leave the databases to inspect")
    args = parser.parse_args()
    args.events = args.recipients if args.events is None else args.events
    args.payments = args.recipients // 2 if args.payments is None else args.payments
    args.backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    # The report's intervals import scipy on a process's first report (domain.stats does it
    # lazily): timed here once, so that each backend's first call is the database's own.
    began = time.perf_counter()
    import scipy.stats  # noqa: F401

    scipy_ms = (time.perf_counter() - began) * 1000
    extra = {"sqlite": sqlite3.sqlite_version, "load_average": load_average()}
    print("machine:", json.dumps(machine() | extra))
    print(
        "parameters:",
        json.dumps(
            {
                "backends": args.backends,
                "recipients": args.recipients,
                "funnel_events": args.events,
                "payments": args.payments,
                "variants": {v.name: v.weight for v in VARIANTS},
                "holdout_percent": HOLDOUT_PERCENT,
                "goals": [{"event": g.event, "window_hours": g.window_hours} for g in GOALS],
                "pix_share": PIX_SHARE,
                "paid_share": PAID_SHARE,
                "send_s": SEND_S,
                "chunk": args.chunk,
                "single": args.single,
                "probe": args.probe,
                "analyze_before_load": args.analyze_before_load,
                "runs": args.runs,
                "csv_rows": args.csv_rows,
                "scipy_import_ms": round(scipy_ms, 1),
            }
        ),
        flush=True,
    )
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
