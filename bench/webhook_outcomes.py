"""What outgoing webhooks cost the sending path: `record_outcomes` batches timed three ways,
interleaved round by round on one database so the machine's noise falls on all alike:

- `baseline`: the outbox step switched off (what the code did before webhooks);
- `no_endpoint`: webhooks in place, no endpoint registered (every deployment without them);
- `endpoint`: an endpoint wanting contact.blocked, so each block writes an outbox row.

Each batch holds `--batch` outcomes of which `--blocked` are blocks (with their contact
changes), as the engine records them. Prints the machine, the parameters and JSON results.

    .venv/bin/python bench/webhook_outcomes.py --backend postgresql --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import delete, insert, text
from sqlalchemy.engine import URL, make_url

sys.path.insert(0, str(Path(__file__).parent))
from disparo.db import migrate, outcomes
from disparo.db.deliveries import ContactChange, DeliveryOutcome
from disparo.db.engine import Database
from disparo.db.tables import bots, shots_queue, shots_sent, telegram_contacts
from disparo.db.tables_webhooks import webhook_deliveries, webhook_endpoints
from throughput import PG_ADMIN, machine

VARIANTS = ("baseline", "no_endpoint", "endpoint")


async def seed(db: Database, recipients: int) -> None:
    async with db.write() as conn:
        await conn.execute(insert(bots).values(slug="loja", token="t", webhook_secret="s"))  # noqa: S106 (a bench bot)
        await conn.execute(
            insert(shots_queue).values(
                id=1, bot_slug="loja", target="started", copy="Oi", status="running"
            )
        )
        ids = range(1, recipients + 1)
        await conn.execute(
            insert(telegram_contacts),
            [{"bot_slug": "loja", "telegram_id": i, "chat_state": "active"} for i in ids],
        )
        await conn.execute(
            insert(shots_sent),
            [
                {"shot_id": 1, "bot_slug": "loja", "telegram_id": i, "seq": i, "status": "sending"}
                for i in ids
            ],
        )


async def reset(db: Database, variant: str) -> None:
    async with db.write() as conn:
        await conn.execute(
            text(
                "UPDATE shots_sent SET status = 'sending', reason = NULL, sent_at = NULL,"
                " message_id = NULL"
            )
        )
        await conn.execute(text("UPDATE telegram_contacts SET chat_state = 'active'"))
        await conn.execute(delete(webhook_deliveries))
        await conn.execute(delete(webhook_endpoints))
        if variant == "endpoint":
            await conn.execute(
                insert(webhook_endpoints).values(
                    url="https://crm.example.com/h",
                    events="contact.blocked",
                    secret="s",  # noqa: S106
                )
            )


def batches(recipients: int, size: int, blocked: int) -> list[tuple[list[Any], list[Any]]]:
    now = datetime.now(UTC)
    out = []
    for start in range(1, recipients + 1, size):
        ids = list(range(start, min(start + size, recipients + 1)))
        lost = set(ids[:blocked])
        outs = [
            DeliveryOutcome(1, i, "skipped", reason="blocked")
            if i in lost
            else DeliveryOutcome(1, i, "sent", message_id=i, sent_at=now)
            for i in ids
        ]
        out.append((outs, [ContactChange("loja", i, "blocked") for i in sorted(lost)]))
    return out


async def no_events(*_args: Any, **_kwargs: Any) -> None:
    return None


async def one_round(db: Database, variant: str, work: list[Any]) -> list[float]:
    await reset(db, variant)
    real = outcomes._contact_events
    if variant == "baseline":
        outcomes._contact_events = no_events  # type: ignore[assignment]
    times = []
    try:
        for outs, changes in work:
            started = time.perf_counter()
            await outcomes.record_outcomes(db, outs, changes, now=datetime.now(UTC))
            times.append(time.perf_counter() - started)
    finally:
        outcomes._contact_events = real  # type: ignore[method-assign]
    return times


def database(backend: str) -> URL:
    if backend == "sqlite":
        return make_url(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute('DROP DATABASE IF EXISTS "bench_webhook_outcomes" WITH (FORCE)')
        admin.execute('CREATE DATABASE "bench_webhook_outcomes"')
    return make_url(PG_ADMIN).set(database="bench_webhook_outcomes")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    url = database(args.backend)
    migrate.upgrade(url)
    db = Database(url)
    try:
        await seed(db, args.recipients)
        work = batches(args.recipients, args.batch, args.blocked)
        per_variant: dict[str, list[float]] = {v: [] for v in VARIANTS}
        await one_round(db, "baseline", work)  # warm-up
        for round_number in range(args.rounds):
            shift = round_number % len(VARIANTS)  # each variant takes each place in turn
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                per_variant[variant] += await one_round(db, variant, work)
    finally:
        await db.dispose()
    results = {}
    for variant, times in per_variant.items():
        results[variant] = {
            "batches": len(times),
            "median_ms": round(statistics.median(times) * 1000, 3),
            "p90_ms": round(statistics.quantiles(times, n=10)[8] * 1000, 3),
            "outcomes_per_s": round(args.batch / statistics.median(times)),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--blocked", type=int, default=10, help="blocks per batch")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(json.dumps({"machine": machine(), "params": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
