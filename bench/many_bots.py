"""Many bots at once: 100 bots at 30/s, 300 recipients each, sent by `disparo worker` processes.

The simulator runs in its own process at Telegram's default limits (30 messages/s per bot,
40 ± 10 ms answers); the worker(s) run as shipped (`python -m disparo worker`, one process each,
DISPARO_WORKER_MAX_BOTS raised to hold every bot); the database is a fresh PostgreSQL (or
SQLite) one. One shot per bot is queued in a single commit, due at once.

Prints the machine, the parameters and one JSON object:

  ratio_whole_run   messages / (last − first delivery), over bots × 30/s: includes the ramp
                    (claiming 100 shots) and the tail
  ratio_steady      the aggregate rate while every bot was sending, over bots × 30/s
  http_429, duplicates, unknown   at the simulator / in shots_sent
  cpu_us_per_message              worker CPU (user + system, psutil) per delivered message
  wal_bytes_per_message           PostgreSQL WAL written during the run per message (the
                                  whole server's: run it with nothing else on that server)
  peak_rss_mb                     per worker process (the kernel's VmHWM)
  cpu_share                       CPU seconds of worker(s), simulator and PostgreSQL during
                                  the run, to show what bounds it on this machine

    .venv/bin/python bench/many_bots.py                      # 100 bots × 300, 1 worker, PG
    .venv/bin/python bench/many_bots.py --workers 2 --bots 100 --recipients 300
    .venv/bin/python bench/many_bots.py --bots 10 --recipients 10000 --paid-rate 1000
                                             # what the worker(s) can push, not Telegram
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import fresh_database, print_setup, run_with_simulator
from throughput import jsonable, queue_shots, seed, sim_post
from worker_process import (
    delivery_statuses,
    rate,
    run_workers,
    sim_figures,
    steady_rate,
)

LIMIT_PER_BOT = 30


async def run(args: argparse.Namespace, sim: str, simulator_pid: int) -> dict[str, Any]:
    per_bot = args.paid_rate or LIMIT_PER_BOT
    async with fresh_database(args.backend, "many") as db:
        tokens = await seed(
            db, args.bots, args.recipients, per_bot, paid_broadcast=bool(args.paid_rate)
        )
        for token in tokens if args.paid_rate else ():
            sim_post(sim, f"bots/{token}/limits", {"paid_per_second": args.paid_rate})
        per_worker = math.ceil(args.bots / args.workers)
        run = await run_workers(
            db,
            sim,
            simulator_pid,
            lambda: queue_shots(db, args.bots),
            workers=args.workers,
            max_bots=args.max_bots if args.workers == 1 else per_worker,
            cap_s=args.cap_s,
            profile=args.profile,
        )
        statuses = await delivery_statuses(db)
    figures = sim_figures(sim, tokens)
    if args.dump:
        args.dump.write_text(json.dumps(figures.per_bot))
    messages = len(figures.times)
    limit = per_bot * args.bots
    whole = rate(figures.times)
    steady, steady_s = steady_rate(figures.per_bot)
    firsts = sorted(t[0] for t in figures.per_bot.values() if t)
    per_bot_rates = sorted(rate(t) for t in figures.per_bot.values() if len(t) > 1)
    worker_cpu = sum(run.worker_cpu_s)
    return {
        "backend": args.backend,
        "bots": args.bots,
        "recipients_per_bot": args.recipients,
        "workers": args.workers,
        "settled": run.settled,
        "messages": messages,
        "limit_per_s": limit,
        "achieved_whole_run_per_s": whole,
        "ratio_whole_run": whole / limit,
        "achieved_steady_per_s": steady,
        "ratio_steady": steady / limit,
        "steady_window_s": steady_s,
        "per_bot_rate_min": per_bot_rates[0] if per_bot_rates else None,
        "per_bot_rate_median": per_bot_rates[len(per_bot_rates) // 2] if per_bot_rates else None,
        "first_send_s": firsts[0] - run.scheduled_at.timestamp() if firsts else None,
        "ramp_s": firsts[-1] - firsts[0] if firsts else None,
        "duration_s": figures.times[-1] - figures.times[0] if messages > 1 else None,
        "http_429": figures.http_429,
        "duplicates": figures.duplicates,
        "deliveries": statuses,
        "unknown": statuses.get("unknown", 0),
        "worker_cpu_s": worker_cpu,
        "cpu_us_per_message": worker_cpu / messages * 1e6 if messages else None,
        "wal_bytes_per_message": run.wal_bytes / messages if run.wal_bytes and messages else None,
        "peak_rss_mb": [s.peak_rss_mb for s in run.samples],
        "cpu_share": run.cpu_share(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--bots", type=int, default=100)
    parser.add_argument("--recipients", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--max-bots",
        type=int,
        default=100,
        help="DISPARO_WORKER_MAX_BOTS of a single worker (with --workers N: bots / N each)",
    )
    parser.add_argument(
        "--paid-rate",
        type=int,
        default=0,
        help="bots on paid broadcast at this many messages/s each (the simulator's limit too); "
        "0: Telegram's 30/s",
    )
    parser.add_argument("--cap-s", type=float, default=180.0, help="longest run")
    parser.add_argument("--port", type=int, default=0, help="simulator port (0: a free one)")
    parser.add_argument("--dump", type=Path, help="write every bot's delivery times (JSON) here")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the (first) worker into this file (.svg, or .txt)"
    )
    args = parser.parse_args()
    print_setup(
        {
            "backend": args.backend,
            "bots": args.bots,
            "recipients_per_bot": args.recipients,
            "bot_rate_per_s": args.paid_rate or LIMIT_PER_BOT,
            "paid_broadcast": bool(args.paid_rate),
            "workers": args.workers,
            "DISPARO_WORKER_MAX_BOTS": (
                args.max_bots if args.workers == 1 else math.ceil(args.bots / args.workers)
            ),
            "simulator": "python -m disparo simulator (defaults: 30/s per bot, 40±10 ms)",
            "worker": "python -m disparo worker, its own process, INFO logs to a file",
        }
    )
    result = run_with_simulator(args.port, lambda sim, pid: run(args, sim, pid))
    print(json.dumps(jsonable(result), indent=1))


if __name__ == "__main__":
    main()
