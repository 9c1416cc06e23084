"""A bot's report at scale: one bot with 10,000,000 deliveries over 500 shots and 90 days,
1,000,000 clicks and 500,000 conversions, its hourly rollup written by the real triggers of
migration 0008, then GET /admin/api/bots/{slug}/report over HTTP for 30 and 90 days.

On each backend (a fresh SQLite file under /tmp, a fresh PostgreSQL database, both migrated and
removed afterwards):

  shots      --shots sent shots of the bot, started evenly over --days days (the last ending two
             hours ago), each delivering to deliveries / shots recipients at 30 messages/s
  pending    every delivery inserted as the snapshot writes it: status pending, no times
             (PostgreSQL: COPY; SQLite: executemany; one transaction per --chunk-shots shots)
  outcomes   one UPDATE per shot moves its deliveries to their outcome, as the worker's recorder
             does in batches: 92.8 % sent (sent_at at its turn), 4 % skipped/blocked, 1.5 %
             skipped/deactivated, 1 % skipped/chat_not_found, 0.5 % error, 0.2 % unknown; the
             outcome trigger adds them to report_hours
  clicks     --clicks shot_clicks rows of delivered recipients (about a quarter click twice) and
             each clicker's first click in shot_responses, --replies replies, then --conversions
             shot_conversions (60 % pix_created, 40 % paid with revenue) and one revenue UPDATE
             per shot (a second payment for a tenth of its buyers): every rollup trigger fires
  triggers   the first --compare shots' outcome UPDATEs, clicks and conversions are run once with
             the rollup triggers switched off in a transaction rolled back (PostgreSQL: ALTER
             TABLE … DISABLE TRIGGER; SQLite: DROP TRIGGER), then for real: what the triggers cost
  report     `disparo api` as a subprocess (uvicorn, the real app) and GET …/report over HTTP
             (httpx) for the last 30 and 90 days: the first call, then the median and max of
             --runs more
  check      the report's totals against one direct aggregation over shots_sent, shot_clicks,
             shot_responses and shot_conversions for the same period and the same rules (after
             VACUUM ANALYZE, or ANALYZE on SQLite, so that its joins are planned well)

Prints the machine, the parameters and one JSON object per backend.

    .venv/bin/python bench/bot_report.py [--backend both] [--deliveries 10000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as day_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
from sqlalchemy import bindparam, insert, text
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db.engine import Database
from disparo.db.tables import bots, shots_queue
from disparo.db.types import UTCDateTime
from throughput import Databases, jsonable, machine, token_for

SLUG = "relatorio"
TIMEZONE = "America/Sao_Paulo"
ADMIN_TOKEN = "bench-admin-token-" + "x" * 24
ID0 = 10_000_000
CONTACTS = 2_000_000  # the bot's contacts; each shot reaches a window of them
SEND_RATE = 30  # messages per second: a shot's n-th delivery goes out n / 30 s after its start
ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"

# Outcome by bucket = (telegram_id * 7 + seq) % 1000, the same in SQL and in Python.
OUTCOMES = (  # (bucket below, status, reason)
    (40, "skipped", "blocked"),
    (55, "skipped", "deactivated"),
    (65, "skipped", "chat_not_found"),
    (70, "error", "server_error"),
    (72, "unknown", None),
)
BUCKET = "((telegram_id * 7 + seq) % 1000)"
TRIGGERS = {
    "shots_sent": ("trg_report_hours_outcome",),
    "shot_clicks": ("trg_report_hours_click",),
    "shot_responses": ("trg_report_hours_response",),
    "shot_conversions": ("trg_report_hours_sale", "trg_report_hours_revenue"),
}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def sent(telegram_id: int, seq: int) -> bool:
    return (telegram_id * 7 + seq) % 1000 >= OUTCOMES[-1][0]


def sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC text)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(frozen=True, slots=True)
class Shot:
    id: int
    started_at: datetime
    size: int
    first_id: int  # its recipients: a window of the bot's contacts

    def recipients(self) -> Iterator[tuple[int, int]]:
        """(seq, telegram_id) in send order."""
        for n in range(self.size):
            yield n + 1, ID0 + (self.first_id + n) % CONTACTS

    def sent_at(self, seq: int) -> datetime:
        return self.started_at + timedelta(seconds=seq / SEND_RATE)


def plan_shots(args: argparse.Namespace, now: datetime) -> list[tuple[datetime, int, int]]:
    """(started_at, size, first contact) per shot: started evenly over --days, local daytime
    hours varying, the last ending two hours before `now`."""
    rng = random.Random(7)
    base, extra = divmod(args.deliveries, args.shots)
    span_s = args.days * 86400 - 4 * 3600
    first = now - timedelta(days=args.days) + timedelta(hours=1)
    plan = []
    for k in range(args.shots):
        size = base + (1 if k < extra else 0)
        at = first + timedelta(seconds=span_s * k / args.shots + rng.uniform(0, 3600))
        plan.append((at.replace(microsecond=0), size, rng.randrange(CONTACTS)))
    return plan


# What happens after the deliveries ------------------------------------------------------------


@dataclass
class Facts:
    clicks: list[tuple[Any, ...]]  # (shot_id, telegram_id, variant, link, clicked_at)
    responses: list[tuple[Any, ...]]  # (shot_id, kind, telegram_id, responded_at)
    conversions: list[tuple[Any, ...]]  # (shot_id, event, telegram_id, variant, at, cents, n)


def facts_of(shot: Shot, clicks: int, replies: int, conversions: int, rng: random.Random) -> Facts:
    """A shot's clicks (first clicks also as responses), replies and conversions, all of
    delivered recipients."""
    delivered = [(seq, tid) for seq, tid in shot.recipients() if sent(tid, seq)]
    clickers = rng.sample(delivered, min(len(delivered), clicks * 4 // 5))
    repeat = [rng.choice(clickers) for _ in range(clicks - len(clickers))] if clickers else []
    click_rows, responses = [], []
    for seq, tid in clickers + repeat:
        at = shot.sent_at(seq) + timedelta(seconds=rng.uniform(5, 6 * 3600))
        click_rows.append((shot.id, tid, None, rng.randrange(2), at))
    click_rows.sort(key=lambda row: row[4])
    first: dict[int, datetime] = {}
    for row in click_rows:
        first.setdefault(row[1], row[4])
    responses = [(shot.id, "click", tid, at) for tid, at in first.items()]
    for seq, tid in rng.sample(delivered, min(len(delivered), replies)):
        responses.append((shot.id, "reply", tid, shot.sent_at(seq) + timedelta(minutes=3)))
    buyers = rng.sample(delivered, min(len(delivered), conversions))
    pix = len(buyers) * 3 // 5
    conversion_rows = []
    for n, (seq, tid) in enumerate(buyers):
        at = shot.sent_at(seq) + timedelta(seconds=rng.uniform(60, 48 * 3600))
        if n < pix:
            conversion_rows.append((shot.id, "pix_created", tid, None, at, 0, 0))
        else:
            cents = rng.randint(1_000, 50_000)
            conversion_rows.append((shot.id, "paid", tid, None, at, cents, 1))
    return Facts(click_rows, responses, conversion_rows)


# Loading --------------------------------------------------------------------------------------


def _outcome_sql(time_expr: str, shot_param: str, *, modulo: str = "%") -> str:
    """One shot's deliveries from pending to their outcome (time_expr: the delivery's turn;
    modulo: the driver's spelling of %)."""
    bucket = BUCKET.replace("%", modulo)
    status = " ".join(f"WHEN {bucket} < {b} THEN '{s}'" for b, s, _ in OUTCOMES)
    reason = " ".join(f"WHEN {bucket} < {b} THEN '{r}'" for b, _, r in OUTCOMES if r)
    last = OUTCOMES[-1][0]
    return (
        f"UPDATE shots_sent SET status = CASE {status} ELSE 'sent' END,"
        f" reason = CASE {reason} ELSE NULL END,"
        f" error = CASE WHEN {bucket} >= 65 AND {bucket} < 70 THEN 'Bad Gateway' ELSE NULL END,"
        f" message_id = CASE WHEN {bucket} >= {last} THEN seq ELSE NULL END,"
        f" sent_at = CASE WHEN {bucket} >= {last} THEN {time_expr} ELSE NULL END,"
        f" updated_at = {time_expr}, attempts = 1"
        f" WHERE shot_id = {shot_param} AND status = 'pending'"
    )


class PostgresLoader:
    """COPY for inserts (statement triggers: one rollup upsert per COPY), UPDATE per shot."""

    backend = "postgresql"

    def __init__(self, url: URL) -> None:
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(conninfo)
        turn = "(%(started)s::timestamptz + seq * interval '1 second' / 30)"
        self.outcome_sql = _outcome_sql(turn, "%(shot_id)s", modulo="%%")

    def close(self) -> None:
        self.conn.close()

    def copy(self, target: str, rows: Iterator[tuple[Any, ...]] | list[tuple[Any, ...]]) -> None:
        with self.conn.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def insert(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        self.copy(f"{table} ({columns})", rows)

    def outcome(self, shot: Shot) -> None:
        self.conn.execute(self.outcome_sql, {"started": shot.started_at, "shot_id": shot.id})

    def revenue(self, shot_id: int) -> None:
        self.conn.execute(
            "UPDATE shot_conversions SET revenue_cents = revenue_cents + 1990,"
            " payments = payments + 1 WHERE shot_id = %s AND event = 'paid'"
            " AND telegram_id %% 10 = 0",
            (shot_id,),
        )

    def begin(self) -> None:
        pass  # psycopg opens a transaction on the first statement

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def disable_triggers(self, table: str) -> None:
        for name in TRIGGERS[table]:
            self.conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")

    def analyze(self) -> None:
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE")
        self.conn.autocommit = False


class SqliteLoader:
    """executemany (row triggers), UPDATE per shot, on a connection set up as the app's."""

    backend = "sqlite"

    def __init__(self, url: URL) -> None:
        self.conn = sqlite3.connect(str(url.database), isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            self.conn.execute(f"PRAGMA {pragma}")
        turn = (
            "(strftime('%Y-%m-%d %H:%M:%f', :started, '+' || (seq / 30.0) || ' seconds') || '000')"
        )
        self.outcome_sql = _outcome_sql(turn, ":shot_id")

    def close(self) -> None:
        self.conn.close()

    @staticmethod
    def _text(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(sqlite_time(v) if isinstance(v, datetime) else v for v in row)

    def copy(self, target: str, rows: Iterator[tuple[Any, ...]] | list[tuple[Any, ...]]) -> None:
        first = None
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return
        marks = ", ".join(["?"] * len(first))

        def all_rows() -> Iterator[tuple[Any, ...]]:
            yield self._text(first)
            for row in iterator:
                yield self._text(row)

        self.conn.executemany(f"INSERT INTO {target} VALUES ({marks})", all_rows())

    def insert(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        self.copy(f"{table} ({columns})", rows)

    def outcome(self, shot: Shot) -> None:
        started = shot.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        self.conn.execute(self.outcome_sql, {"started": started, "shot_id": shot.id})

    def revenue(self, shot_id: int) -> None:
        self.conn.execute(
            "UPDATE shot_conversions SET revenue_cents = revenue_cents + 1990,"
            " payments = payments + 1 WHERE shot_id = ? AND event = 'paid'"
            " AND telegram_id % 10 = 0",
            (shot_id,),
        )

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def disable_triggers(self, table: str) -> None:
        for name in TRIGGERS[table]:  # undone by the ROLLBACK (SQLite's DDL is transactional)
            self.conn.execute(f"DROP TRIGGER {name}")

    def analyze(self) -> None:
        self.conn.execute("ANALYZE")


CLICK_COLUMNS = "shot_id, telegram_id, variant, link, clicked_at"
RESPONSE_COLUMNS = "shot_id, kind, telegram_id, responded_at"
CONVERSION_COLUMNS = "shot_id, event, telegram_id, variant, converted_at, revenue_cents, payments"


def _pending(shots: list[Shot], slug: str) -> Iterator[tuple[Any, ...]]:
    for shot in shots:
        for seq, tid in shot.recipients():
            yield (shot.id, slug, tid, seq)


class Phases:
    """Seconds and load averages per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.loads: dict[str, list[list[float]]] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        before = load_average()
        began = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began
        self.loads[name] = [before, load_average()]


def compare_triggers(
    loader: Any, shots: list[Shot], facts: list[Facts], phases: Phases
) -> dict[str, Any]:
    """The first shots' statements without the rollup triggers (rolled back), then with them
    (kept): seconds of each."""
    result: dict[str, Any] = {"shots": len(shots), "deliveries": sum(s.size for s in shots)}
    for triggers in (False, True):
        key = "with_triggers_s" if triggers else "without_triggers_s"
        timings: dict[str, float] = {}
        loader.begin()
        if not triggers:
            for table in TRIGGERS:
                loader.disable_triggers(table)
        began = time.perf_counter()
        for shot in shots:
            loader.outcome(shot)
        timings["outcomes"] = time.perf_counter() - began
        began = time.perf_counter()
        loader.insert("shot_clicks", CLICK_COLUMNS, [r for f in facts for r in f.clicks])
        loader.insert("shot_responses", RESPONSE_COLUMNS, [r for f in facts for r in f.responses])
        timings["clicks_and_responses"] = time.perf_counter() - began
        began = time.perf_counter()
        rows = [r for f in facts for r in f.conversions]
        loader.insert("shot_conversions", CONVERSION_COLUMNS, rows)
        for shot in shots:
            loader.revenue(shot.id)
        timings["conversions"] = time.perf_counter() - began
        if triggers:
            loader.commit()
        else:
            loader.rollback()
        result[key] = timings
    with_s, without_s = result["with_triggers_s"], result["without_triggers_s"]
    result["ratio"] = {k: with_s[k] / without_s[k] if without_s[k] else None for k in with_s}
    for name, seconds in with_s.items():
        phases.seconds[name] = phases.seconds.get(name, 0.0) + seconds
    return result


def load(
    loader: Any, shots: list[Shot], args: argparse.Namespace, phases: Phases
) -> dict[str, Any]:
    rng = random.Random(11)
    per_shot = {
        "clicks": args.clicks // len(shots),
        "replies": args.replies // len(shots),
        "conversions": args.conversions // len(shots),
    }
    with phases("pending"):
        for start in range(0, len(shots), args.chunk_shots):
            loader.begin()
            loader.copy(
                "shots_sent (shot_id, bot_slug, telegram_id, seq)",
                _pending(shots[start : start + args.chunk_shots], SLUG),
            )
            loader.commit()
    print(f"  pending: {phases.seconds['pending']:.1f} s", file=sys.stderr, flush=True)
    compared = shots[: args.compare]
    compared_facts = [facts_of(s, **per_shot, rng=rng) for s in compared]
    comparison = compare_triggers(loader, compared, compared_facts, phases)
    print("  triggers:", json.dumps(jsonable(comparison)), file=sys.stderr, flush=True)
    rest = shots[args.compare :]
    with phases("outcomes"):
        for shot in rest:
            loader.begin()
            loader.outcome(shot)
            loader.commit()
    print(f"  outcomes: {phases.seconds['outcomes']:.1f} s", file=sys.stderr, flush=True)
    counts = {"clicks": 0, "responses": 0, "conversions": 0}
    for f in compared_facts:
        counts["clicks"] += len(f.clicks)
        counts["responses"] += len(f.responses)
        counts["conversions"] += len(f.conversions)
    generate_s = 0.0
    for start in range(0, len(rest), args.chunk_shots):
        began = time.perf_counter()
        part = rest[start : start + args.chunk_shots]
        facts = [facts_of(s, **per_shot, rng=rng) for s in part]
        generate_s += time.perf_counter() - began
        clicks = [r for f in facts for r in f.clicks]
        responses = [r for f in facts for r in f.responses]
        conversions = [r for f in facts for r in f.conversions]
        with phases("clicks_and_responses"):
            loader.begin()
            loader.insert("shot_clicks", CLICK_COLUMNS, clicks)
            loader.insert("shot_responses", RESPONSE_COLUMNS, responses)
            loader.commit()
        with phases("conversions"):
            loader.begin()
            loader.insert("shot_conversions", CONVERSION_COLUMNS, conversions)
            for shot in part:
                loader.revenue(shot.id)
            loader.commit()
        counts["clicks"] += len(clicks)
        counts["responses"] += len(responses)
        counts["conversions"] += len(conversions)
    print(
        f"  clicks+responses {phases.seconds['clicks_and_responses']:.1f} s,"
        f" conversions {phases.seconds['conversions']:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return {
        "rows": counts,
        "facts_generation_s": generate_s,
        "trigger_cost": comparison,
    }


# The server and the report --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@contextmanager
def server(
    url: URL,
    *,
    command: str = "api",
    env: dict[str, str] | None = None,
    port: int | None = None,
    pid: list[int] | None = None,
) -> Iterator[str]:
    """`disparo <command>` on `port` (default: a free one), uvicorn and the real app; its base
    URL (its process id appended to `pid`)."""
    port = port or free_port()
    environ = (
        os.environ
        | {
            "DISPARO_DATABASE_URL": database_url(url),
            "DISPARO_ADMIN_TOKEN": ADMIN_TOKEN,
            "DISPARO_LOG_LEVEL": "WARNING",
        }
        | (env or {})
    )
    process = subprocess.Popen(
        [str(PYTHON), "-m", "disparo", command, "--host", "127.0.0.1", "--port", str(port)],
        env=environ,
        cwd=tempfile.gettempdir(),
    )
    base = f"http://127.0.0.1:{port}"
    if pid is not None:
        pid.append(process.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"disparo {command} did not start (exit {process.poll()})")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def period(now: datetime, zone: tzinfo, days: int) -> tuple[str, str]:
    end = now.astimezone(zone).date()
    return (end - timedelta(days=days - 1)).isoformat(), end.isoformat()


def time_report(base: str, start: str, end: str, runs: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    params = {"from": start, "to": end}
    timings, body = [], None
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for _ in range(runs + 1):
            began = time.perf_counter()
            response = client.get(f"/admin/api/bots/{SLUG}/report", params=params)
            timings.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            body = response.json()
    assert body is not None
    later = timings[1:]
    return {
        "from": start,
        "to": end,
        "first_ms": timings[0],
        "median_ms": statistics.median(later) if later else None,
        "max_ms": max(later) if later else None,
        "runs": len(later),
        "json_bytes": len(json.dumps(body)),
        "shots": len(body["shots"]),
        "totals": body["totals"],
        "recommendation": body["best_hours"]["recommendation"],
        "why_none": body["best_hours"]["why_none"],
        "load_average": load_average(),
    }


_DIRECT = {
    "deliveries": """
        SELECT
          sum(CASE WHEN s.status IN ('sent', 'skipped', 'error', 'unknown')
                    AND NOT (s.status = 'skipped' AND coalesce(s.reason, '') = 'cancelled')
               THEN 1 ELSE 0 END),
          sum(CASE WHEN s.status = 'sent' THEN 1 ELSE 0 END),
          sum(CASE WHEN s.reason = 'blocked' THEN 1 ELSE 0 END),
          sum(CASE WHEN s.reason = 'deactivated' THEN 1 ELSE 0 END)
        FROM shots_sent s
        WHERE s.bot_slug = :slug AND coalesce(s.sent_at, s.updated_at) >= :first
          AND coalesce(s.sent_at, s.updated_at) < :after""",
    "clicks": """
        SELECT count(*) FROM shot_clicks k
        JOIN shots_sent s ON s.shot_id = k.shot_id AND s.telegram_id = k.telegram_id
        WHERE s.bot_slug = :slug AND coalesce(s.sent_at, s.updated_at) >= :first
          AND coalesce(s.sent_at, s.updated_at) < :after""",
    "responses": """
        SELECT sum(CASE WHEN r.kind = 'click' THEN 1 ELSE 0 END),
               sum(CASE WHEN r.kind = 'reply' THEN 1 ELSE 0 END)
        FROM shot_responses r
        JOIN shots_sent s ON s.shot_id = r.shot_id AND s.telegram_id = r.telegram_id
        WHERE s.bot_slug = :slug AND coalesce(s.sent_at, s.updated_at) >= :first
          AND coalesce(s.sent_at, s.updated_at) < :after""",
    "conversions": """
        SELECT sum(CASE WHEN c.event = 'pix_created' THEN 1 ELSE 0 END),
               sum(CASE WHEN c.event = 'paid' THEN 1 ELSE 0 END),
               sum(CASE WHEN c.event = 'paid' THEN c.revenue_cents ELSE 0 END)
        FROM shot_conversions c
        JOIN shots_sent s ON s.shot_id = c.shot_id AND s.telegram_id = c.telegram_id
        WHERE s.bot_slug = :slug AND s.status = 'sent' AND s.sent_at >= :first
          AND s.sent_at < :after""",
}


async def direct_totals(db: Database, zone: tzinfo, start: str, end: str) -> dict[str, int]:
    """The period's figures counted straight from the facts (no rollup)."""
    first = datetime.combine(datetime.fromisoformat(start).date(), day_time(), zone)
    after = datetime.combine(
        datetime.fromisoformat(end).date() + timedelta(days=1), day_time(), zone
    )
    params = {"slug": SLUG, "first": first, "after": after}
    binds = (bindparam("first", type_=UTCDateTime()), bindparam("after", type_=UTCDateTime()))
    rows = {}
    async with db.read() as conn:
        for name, sql in _DIRECT.items():
            rows[name] = (await conn.execute(text(sql).bindparams(*binds), params)).one()
    values = [*rows["deliveries"], *rows["clicks"], *rows["responses"], *rows["conversions"]]
    names = ("recipients", "delivered", "blocked", "deactivated", "clicks", "clicked", "replies",
             "pix", "paid", "revenue_cents")  # fmt: skip
    return {name: int(value or 0) for name, value in zip(names, values, strict=True)}


def check(report: dict[str, Any], direct: dict[str, int]) -> dict[str, Any]:
    totals = report["totals"]
    differences = {k: [totals[k], v] for k, v in direct.items() if totals[k] != v}
    return {"equal": not differences, "direct": direct, "differences": differences}


# Run ------------------------------------------------------------------------------------------


async def create_shots(db: Database, plan: list[tuple[datetime, int, int]]) -> list[Shot]:
    async with db.write() as conn:
        token = token_for(random.randrange(10**9, 10**10))
        await conn.execute(
            insert(bots).values(slug=SLUG, token=token, webhook_secret="s" * 24, timezone=TIMEZONE)
        )
        shots = []
        for n, (at, size, first) in enumerate(plan):
            shot_id = (
                await conn.execute(
                    insert(shots_queue)
                    .values(
                        bot_slug=SLUG,
                        target="started",
                        copy=f"<b>Oferta {n + 1}</b>: 30 % off só hoje",
                        buttons=[[{"text": "Quero", "url": "https://example.com/oferta"}]],
                        scheduled_at=at,
                        status="sent",
                        audience_total=size,
                        started_at=at,
                        finished_at=at + timedelta(seconds=size / SEND_RATE),
                    )
                    .returning(shots_queue.c.id)
                )
            ).scalar_one()
            shots.append(Shot(int(shot_id), at, size, first))
    return shots


async def run(args: argparse.Namespace, backend: str, databases: Databases) -> dict[str, Any]:
    url = databases.fresh(backend, "bot_report")
    db = Database(url)
    now = datetime.now(UTC).replace(microsecond=0)
    zone = ZoneInfo(TIMEZONE)
    loader: Any = PostgresLoader(url) if backend == "postgresql" else SqliteLoader(url)
    phases = Phases()
    try:
        shots = await create_shots(db, plan_shots(args, now))
        loaded = load(loader, shots, args, phases)
    finally:
        loader.close()
    reports: dict[str, Any] = {}
    try:
        with server(url) as base:
            for days in args.periods:
                start, end = period(now, zone, days)
                report = time_report(base, start, end, args.runs)
                print(f"  report {days} d:", json.dumps(jsonable(report)), file=sys.stderr)
                reports[f"{days}_days"] = report
        # Statistics for the check's joins over every delivery (the report never needs them).
        began = time.perf_counter()
        analyzer: Any = PostgresLoader(url) if backend == "postgresql" else SqliteLoader(url)
        try:
            analyzer.analyze()
        finally:
            analyzer.close()
        analyze_s = time.perf_counter() - began
        for key, report in reports.items():
            began = time.perf_counter()
            direct = await direct_totals(db, zone, report["from"], report["to"])
            report["check"] = check(report, direct) | {"direct_s": time.perf_counter() - began}
            print(f"  check {key}:", json.dumps(report["check"]), file=sys.stderr, flush=True)
    finally:
        await db.dispose()
    return {
        "backend": backend,
        "deliveries": sum(s.size for s in shots),
        "shots": len(shots),
        "load_s": phases.seconds,
        "load_average": phases.loads,
        **loaded,
        "reports": reports,
        "analyze_before_check_s": analyze_s,
    }


async def main_async(args: argparse.Namespace) -> None:
    databases = Databases()
    try:
        for backend in args.backends:
            result = await run(args, backend, databases)
            print(json.dumps(jsonable(result)), flush=True)
    finally:
        if args.keep:
            print("kept:", databases.tmp, databases.pg_names, file=sys.stderr, flush=True)
        else:
            databases.close()
            shutil.rmtree(databases.tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--deliveries", type=int, default=10_000_000)
    parser.add_argument("--shots", type=int, default=500)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--clicks", type=int, help="default: deliveries / 10")
    parser.add_argument("--replies", type=int, help="default: deliveries / 50")
    parser.add_argument("--conversions", type=int, help="default: deliveries / 20")
    parser.add_argument("--chunk-shots", type=int, default=25, help="shots per insert transaction")
    parser.add_argument("--compare", type=int, default=10, help="shots timed without triggers")
    parser.add_argument("--runs", type=int, default=7, help="timed reports after the first")
    parser.add_argument("--keep", action="store_true", help="leave the databases to inspect")
    args = parser.parse_args()
    args.clicks = args.deliveries // 10 if args.clicks is None else args.clicks
    args.replies = args.deliveries // 50 if args.replies is None else args.replies
    args.conversions = args.deliveries // 20 if args.conversions is None else args.conversions
    args.backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    args.periods = (30, 90)
    print("machine:", json.dumps(machine() | {"sqlite": sqlite3.sqlite_version}))
    shown: tuple[str, ...] = (
        "backends",
        "deliveries",
        "shots",
        "days",
        "clicks",
        "replies",
        "conversions",
    )
    shown += ("chunk_shots", "compare", "runs", "periods")
    parameters = {k: getattr(args, k) for k in shown}
    parameters |= {"outcomes": OUTCOMES, "load_average": load_average()}
    print("parameters:", json.dumps(parameters), flush=True)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
