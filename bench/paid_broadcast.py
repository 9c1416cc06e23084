"""Paid broadcast: one bot with `paid_broadcast` at 1,000 messages/s, 50,000 recipients.

The bot's `rate_per_s` is 1000 and `paid_broadcast` is on, so the engine paces it at 1000/s and
puts `allow_paid_broadcast=true` on every request; the simulator (its own process) is told the
bot's paid limit is 1,000/s. One `disparo worker` process sends the shot.

Prints the machine, the parameters and one JSON object: sustained rate (first to last
delivery, and the slowest / median whole second in between), ratio to 1,000/s, 429s,
duplicates, how many delivered messages lacked allow_paid_broadcast (must be 0), worker CPU
per message and peak RSS.

    .venv/bin/python bench/paid_broadcast.py [--recipients 50000] [--backend postgresql]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db.tables import bots
from harness import fresh_database, print_setup, run_with_simulator
from throughput import jsonable, queue_shots, seed, sim_post
from worker_process import delivery_statuses, rate, run_workers, sim_figures

PAID_RATE = 1000


def per_second(times: list[float]) -> list[int]:
    """Deliveries in each whole second between the first and the last one."""
    if not times:
        return []
    start = times[0]
    counts = Counter(int(t - start) for t in times)
    full = int(times[-1] - start)  # the last, partial second is left out
    return [counts.get(second, 0) for second in range(full)]


async def run(args: argparse.Namespace, sim: str, simulator_pid: int) -> dict[str, Any]:
    async with fresh_database(args.backend, "paid") as db:
        (token,) = await seed(db, 1, args.recipients, PAID_RATE)
        async with db.write() as conn:
            await conn.execute(update(bots).values(paid_broadcast=True, rate_per_s=PAID_RATE))
        sim_post(sim, f"bots/{token}/limits", {"per_second": 30, "paid_per_second": PAID_RATE})
        result = await run_workers(
            db,
            sim,
            simulator_pid,
            lambda: queue_shots(db, 1),
            cap_s=args.cap_s,
            profile=args.profile,
        )
        statuses = await delivery_statuses(db)
    figures = sim_figures(sim, [token])
    messages = len(figures.times)
    sustained = rate(figures.times)
    seconds = sorted(per_second(figures.times))
    cpu_s = sum(result.worker_cpu_s)
    return {
        "backend": args.backend,
        "recipients": args.recipients,
        "settled": result.settled,
        "messages": messages,
        "limit_per_s": PAID_RATE,
        "sustained_per_s": sustained,
        "ratio": sustained / PAID_RATE,
        "whole_seconds": len(seconds),
        "slowest_second": seconds[0] if seconds else None,
        "median_second": seconds[len(seconds) // 2] if seconds else None,
        "first_send_s": figures.times[0] - result.scheduled_at.timestamp() if messages else None,
        "duration_s": figures.times[-1] - figures.times[0] if messages > 1 else None,
        "http_429": figures.http_429,
        "duplicates": figures.duplicates,
        "requests_at_simulator": figures.requests,
        "delivered_without_allow_paid_broadcast": figures.unpaid,
        "deliveries": statuses,
        "worker_cpu_s": cpu_s,
        "cpu_us_per_message": cpu_s / messages * 1e6 if messages else None,
        "peak_rss_mb": result.samples[0].peak_rss_mb,
        "cpu_share": result.cpu_share(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--recipients", type=int, default=50_000)
    parser.add_argument("--cap-s", type=float, default=300.0, help="longest run")
    parser.add_argument("--port", type=int, default=0, help="simulator port (0: a free one)")
    parser.add_argument("--profile", type=Path, help="py-spy the worker into this file")
    args = parser.parse_args()
    print_setup(
        {
            "backend": args.backend,
            "recipients": args.recipients,
            "bot": {"rate_per_s": PAID_RATE, "paid_broadcast": True},
            "simulator": f"python -m disparo simulator, paid limit {PAID_RATE}/s, 40±10 ms",
            "worker": "python -m disparo worker, its own process, INFO logs to a file",
            "ideal_duration_s": math.ceil(args.recipients / PAID_RATE),
        }
    )
    result = run_with_simulator(args.port, lambda sim, pid: run(args, sim, pid))
    print(json.dumps(jsonable(result), indent=1))


if __name__ == "__main__":
    main()
