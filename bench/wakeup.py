"""Wake-up: how long after a shot's `scheduled_at` its first request reaches the simulator.

50 bots with a few recipients each and one `disparo worker` process (idle, as in production).
Two ways a shot becomes due, on PostgreSQL and on SQLite:

  ahead   50 shots written in one commit, scheduled 2 s to 7 s ahead (0.1 s apart): the worker
          must wake at each `scheduled_at` (its sleep is capped at the next one)
  now     50 shots created due now, one commit every ~0.1 s, by this process (another process
          than the worker): PostgreSQL wakes the worker with NOTIFY, SQLite with a one-byte
          datagram to the worker's Unix socket beside the database file (`db/wake_signal.py`)

Latency = first delivery time at the simulator − scheduled_at (same machine, same clock).
Prints the machine, the parameters and one JSON object with p50 / p99 / max per backend × mode.

    .venv/bin/python bench/wakeup.py [--backend both] [--shots 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db.engine import Database
from disparo.db.tables import shots_queue
from harness import fresh_database, print_setup, run_with_simulator
from throughput import jsonable, seed, sim_post
from worker_process import run_workers, sim_figures, summary

RECIPIENTS = 5
COPY = "<b>Lembrete</b>: a live começa agora"


def _shot(index: int, at: datetime) -> dict[str, Any]:
    return {"bot_slug": f"bot{index:02d}", "target": "started", "copy": COPY, "scheduled_at": at}


async def queue_ahead(db: Database, shots: int, scheduled: dict[int, datetime]) -> datetime:
    """Every shot in one commit, due 2 s to 2 + 0.1 × shots s from now."""
    now = datetime.now(UTC)
    rows = []
    for index in range(shots):
        scheduled[index] = now + timedelta(seconds=2 + 0.1 * index)
        rows.append(_shot(index, scheduled[index]))
    async with db.write(wake=True) as conn:
        await conn.execute(insert(shots_queue), rows)
    return now


async def queue_now(db: Database, shots: int, scheduled: dict[int, datetime]) -> datetime:
    """One shot due now per commit, ~0.1 s apart (uniform 0.05–0.15 s)."""
    first = datetime.now(UTC)
    for index in range(shots):
        scheduled[index] = datetime.now(UTC)
        async with db.write(wake=True) as conn:
            await conn.execute(insert(shots_queue).values(**_shot(index, scheduled[index])))
        await asyncio.sleep(random.uniform(0.05, 0.15))
    return first


async def run(
    args: argparse.Namespace, backend: str, mode: str, sim: str, simulator_pid: int
) -> dict[str, Any]:
    scheduled: dict[int, datetime] = {}
    async with fresh_database(backend, f"wake_{mode}") as db:
        tokens = await seed(db, args.shots, RECIPIENTS, 30)
        queue = queue_ahead if mode == "ahead" else queue_now
        result = await run_workers(
            db,
            sim,
            simulator_pid,
            lambda: queue(db, args.shots, scheduled),
            max_bots=max(50, args.shots),
            cap_s=60.0,
        )
    figures = sim_figures(sim, tokens)
    latencies = []
    for index, token in enumerate(tokens):
        times = figures.per_bot[token.partition(":")[0]]
        if times:
            latencies.append(times[0] - scheduled[index].timestamp())
    return {
        "backend": backend,
        "mode": mode,
        "shots": args.shots,
        "started": len(latencies),
        "settled": result.settled,
        "latency_s": summary(latencies),
        "min_s": round(min(latencies), 3) if latencies else None,
        "http_429": figures.http_429,
        "duplicates": figures.duplicates,
    }


async def main_async(args: argparse.Namespace, sim: str, simulator_pid: int) -> list[Any]:
    results = []
    for backend in args.backends:
        for mode in ("ahead", "now"):
            sim_post(sim, "reset", {})
            result = await run(args, backend, mode, sim, simulator_pid)
            print(json.dumps(jsonable(result)), file=sys.stderr, flush=True)
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--shots", type=int, default=50)
    parser.add_argument("--port", type=int, default=0, help="simulator port (0: a free one)")
    args = parser.parse_args()
    args.backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    print_setup(
        {
            "backends": args.backends,
            "shots": args.shots,
            "bots": args.shots,
            "recipients_per_shot": RECIPIENTS,
            "worker": "python -m disparo worker, its own process, DISPARO_POLL_INTERVAL_S=1",
            "simulator": "python -m disparo simulator (defaults: 30/s per bot, 40±10 ms)",
            "latency": "first delivery at the simulator − scheduled_at",
        }
    )
    results = run_with_simulator(args.port, lambda sim, pid: main_async(args, sim, pid))
    print(json.dumps({"results": jsonable(results)}, indent=1))


if __name__ == "__main__":
    main()
