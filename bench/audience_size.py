"""How long `estimate_audience_size` takes on PostgreSQL with 1,000,000 contacts and 200,000 PIX
funnel events (plus 100,000 payments), the size the spec's audience screen must handle.

    .venv/bin/python bench/audience_size.py [--contacts 1000000] [--events 200000]

Prints the machine, the parameters and one JSON object with the median and worst of five runs
per target (warm cache: the screen asks again and again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime

import psycopg
from sqlalchemy.engine import make_url

from disparo.db import migrate
from disparo.db.audience import estimate_audience_size
from disparo.db.engine import Database

PG_ADMIN = os.environ.get(
    "DISPARO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SEED = """
INSERT INTO bots (slug, token, webhook_secret) VALUES ('big', '1:x', 's'), ('other', '2:x', 's');
INSERT INTO telegram_contacts (bot_slug, telegram_id, chat_state, last_interaction_at)
SELECT 'big', g,
       CASE WHEN g % 20 = 0 THEN 'blocked' WHEN g % 33 = 0 THEN 'deactivated' ELSE 'active' END,
       CASE WHEN g % 50 = 0 THEN NULL
            ELSE now() - (g % 90) * interval '1 day' - (g % 1000) * interval '1 second' END
FROM generate_series(1, %(contacts)s) g;
INSERT INTO telegram_contacts (bot_slug, telegram_id, last_interaction_at)
SELECT 'other', g, now() FROM generate_series(1, %(contacts)s / 10) g;
INSERT INTO funnel_events (bot_slug, telegram_id, event, occurred_at)
SELECT 'big', (g::bigint * 7919) %% %(contacts)s + 1,
       CASE WHEN g % 2 = 0 THEN 'pix_created' WHEN g % 3 = 0 THEN 'checkout_pix_created'
            ELSE 'start' END,
       now() - g * interval '1 second'
FROM generate_series(1, %(events)s) g;
INSERT INTO payment_transactions (bot_slug, telegram_id, external_id, status, amount_cents)
SELECT 'big', (g::bigint * 104729) %% %(contacts)s + 1, 'e' || g,
       CASE WHEN g % 4 = 0 THEN 'expired' WHEN g % 2 = 0 THEN 'paid' ELSE 'created' END, 990
FROM generate_series(1, %(events)s / 2) g;
"""


async def measure(db: Database, target: str, recency: int | None) -> dict[str, float | int]:
    runs, count = [], 0
    for _ in range(5):
        started = time.perf_counter()
        async with db.read() as conn:
            count = await estimate_audience_size(
                conn, "big", target, recency, now=datetime.now(UTC)
            )
        runs.append(time.perf_counter() - started)
    return {
        "count": count,
        "median_ms": round(statistics.median(runs) * 1000, 1),
        "worst_ms": round(max(runs) * 1000, 1),
    }


async def main_async(args: argparse.Namespace, name: str) -> dict[str, object]:
    url = make_url(PG_ADMIN).set(database=name)
    migrate.upgrade(url)
    seed = SEED.replace("%(contacts)s", str(args.contacts)).replace("%(events)s", str(args.events))
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        for statement in filter(str.strip, seed.replace("%%", "%").split(";")):
            conn.execute(statement)  # type: ignore[call-overload]
        conn.execute("VACUUM ANALYZE")
    db = Database(url)
    try:
        return {
            "started": await measure(db, "started", None),
            "started_30_days": await measure(db, "started", 30),
            "pix_created": await measure(db, "pix_created", None),
        }
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the database (to explain)")
    args = parser.parse_args()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        version = admin.execute("SHOW server_version").fetchone()
        name = f"disparo_bench_audience_{os.getpid()}"
        admin.execute(f'CREATE DATABASE "{name}"')
    print(
        "machine:",
        json.dumps(
            {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "postgresql": version[0] if version else "?",
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
        ),
    )
    print(
        "parameters:",
        json.dumps(
            {
                "contacts": args.contacts,
                "pix_events": args.events,
                "payments": args.events // 2,
                "other_bot_contacts": args.contacts // 10,
            }
        ),
    )
    try:
        print(json.dumps(asyncio.run(main_async(args, name))))
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
