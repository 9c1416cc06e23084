"""Crash chaos at full size: kill -9 worker processes mid-shot, restart them, count the damage.

Per backend: 4 bots × 5,000 recipients (20,000 in all), one text shot per bot, the simulator
in its own process at its default limits (30 messages/s per bot, 40 ± 10 ms answers), the
bots at the default rate (25/s, no paid broadcast). PostgreSQL runs three `disparo worker`
processes, SQLite one `disparo serve`; a random one is killed with SIGKILL every 0.5–2 s and
restarted at once, `--kills` times, then the shots run to the end. The checks are those of
`tests/e2e/test_crash.py` (the CI version of this run).

Prints the machine, the parameters, then one JSON object with, per backend: kills (and how
many hit a process holding a lease), recipients, duplicates (the simulator's count),
ledger_problems (the database's outcomes against the simulator's deliveries, chat by chat),
unknown (and what the kills had left reserved), outcomes, shots, http_429, overlapping_owners,
duration_s.

    .venv/bin/python bench/chaos.py                              # both backends
    .venv/bin/python bench/chaos.py --backend postgresql --kills 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))

from chaos_harness import ChaosPlan, run_chaos

from throughput import Databases, machine


def plan_for(backend: str, args: argparse.Namespace) -> ChaosPlan:
    """The run's plan for one backend."""
    return ChaosPlan(
        backend=backend,
        workers=args.workers,
        bots=args.bots,
        recipients=args.recipients,
        rate_per_s=args.rate,
        paid_broadcast=False,
        sim_per_second=None,  # the simulator's default: 30/s per bot
        latency_ms=40.0,
        kills=args.kills,
        lease_s=args.lease_s,
        max_bots=args.max_bots,
        seed=args.seed,
        finish_timeout_s=args.timeout_s,
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    databases = Databases()
    logs = Path(tempfile.mkdtemp(prefix="disparo-chaos-logs-"))
    try:
        for backend in args.backends:
            url = databases.fresh(backend, "chaos")
            report = await run_chaos(plan_for(backend, args), url, logs / backend)
            report.pop("per_shot")
            print(json.dumps(report), file=sys.stderr, flush=True)
            results[backend] = report
    finally:
        databases.close()
    results["logs"] = str(logs)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--workers", type=int, default=3, help="worker processes (PostgreSQL)")
    parser.add_argument("--bots", type=int, default=4)
    parser.add_argument("--recipients", type=int, default=5000, help="per bot")
    parser.add_argument("--rate", type=int, default=25, help="each bot's rate_per_s")
    parser.add_argument("--kills", type=int, default=30, help="kill -9, one every 0.5-2 s")
    parser.add_argument("--lease-s", type=float, default=5.0, help="DISPARO_LEASE_S")
    parser.add_argument("--max-bots", type=int, default=2, help="DISPARO_WORKER_MAX_BOTS")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="longest wait for the end")
    args = parser.parse_args()
    args.backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    print("machine:", json.dumps(machine()))
    print(
        "parameters:",
        json.dumps(
            {
                "backends": args.backends,
                "bots": args.bots,
                "recipients_per_bot": args.recipients,
                "recipients": args.bots * args.recipients,
                "bot_rate_per_s": args.rate,
                "simulator": "python -m disparo simulator (defaults: 30/s per bot, 40±10 ms)",
                "processes": {
                    "postgresql": f"{args.workers} × disparo worker",
                    "sqlite": "1 × disparo serve",
                },
                "kills": args.kills,
                "kill_every_s": [0.5, 2.0],
                "lease_s": args.lease_s,
                "worker_max_bots": args.max_bots,
                "seed": args.seed,
            }
        ),
        flush=True,
    )
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
