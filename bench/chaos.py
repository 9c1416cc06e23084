"""Chaos at full size: kill -9 workers mid-shot, and a faulty Telegram; count the damage.

Per backend, two runs, each on 4 bots × 5,000 recipients (20,000 in all), one text shot per
bot, the simulator in its own process at its default limits (30 messages/s per bot,
40 ± 10 ms answers), the bots at the default rate (25/s, no paid broadcast):

  crash   PostgreSQL: three `disparo worker` processes, SQLite: one `disparo serve`; a random
          one is killed with SIGKILL every 0.5–2 s and restarted at once, `--kills` times,
          then the shots run to the end (the checks of tests/e2e/test_crash.py)
  faults  one `disparo worker`; 5 % of requests answer 5xx, 2 % lose their connection, 1 %
          answer after the client's 1 s timeout; a 429 storm of `--storm-s` (30 s) on the
          first bot, outlasting its first retry_after by half (tests/e2e/test_telegram_faults.py)

Prints the machine, the parameters, then one JSON object with, per backend and run: kills
(and how many hit a process holding a lease), recipients, duplicates (the simulator's count),
ledger_problems (the database's outcomes against the simulator's deliveries, chat by chat),
unknown (and what the kills had left reserved), outcomes, http_429 and pauses, faults
injected, overlapping_owners, duration_s.

    .venv/bin/python bench/chaos.py                              # both runs, both backends
    .venv/bin/python bench/chaos.py --backend postgresql --runs crash --kills 40
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

from chaos_harness import ChaosPlan, FaultPlan, run_chaos, run_faults

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


def fault_plan_for(backend: str, args: argparse.Namespace) -> FaultPlan:
    """The faults run's plan for one backend."""
    return FaultPlan(
        backend=backend,
        bots=args.bots,
        recipients=args.recipients,
        rate_per_s=args.rate,
        paid_broadcast=False,
        latency_ms=40.0,
        error_5xx=0.05,
        drop=0.02,
        slow=0.01,
        slow_s=2.0,
        telegram_timeout_s=1.0,
        storm_s=args.storm_s,
        finish_timeout_s=args.timeout_s,
    )


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The faults report with its per-shot figures summed up."""
    shots = report.pop("per_shot")
    total: dict[str, Any] = {}
    for key in ("requests", "delivered", "5xx", "dropped", "slow", "429", "duplicates"):
        total[key] = sum(shot[key] for shot in shots)
    outcomes: dict[str, int] = {}
    for shot in shots:
        for status, count in shot["outcomes"].items():
            outcomes[status] = outcomes.get(status, 0) + count
    return {
        **report,
        "shots": [shot["status"] for shot in shots],
        "outcomes": outcomes,
        "unknown": outcomes.get("unknown", 0),
        **total,
        "messages_per_chat_max": max(shot["messages_per_chat_max"] for shot in shots),
        "ledger_problems": sum(sum(shot["ledger_problems"].values()) for shot in shots),
        "unknown_by_error": [shot["unknown_by_error"] for shot in shots],
        "storm_refusals_per_pause": shots[0]["refusals_per_pause"],
        "storm_pause_retry_after_s": shots[0]["pause_retry_after_s"],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    databases = Databases()
    logs = Path(tempfile.mkdtemp(prefix="disparo-chaos-logs-"))
    try:
        for backend in args.backends:
            if "crash" in args.runs:
                url = databases.fresh(backend, "crash")
                report = await run_chaos(plan_for(backend, args), url, logs / f"{backend}-crash")
                report.pop("per_shot")
                print(json.dumps(report), file=sys.stderr, flush=True)
                results[f"{backend}_crash"] = report
            if "faults" in args.runs:
                url = databases.fresh(backend, "faults")
                plan = fault_plan_for(backend, args)
                report = _summary(await run_faults(plan, url, logs / f"{backend}-faults"))
                print(json.dumps(report), file=sys.stderr, flush=True)
                results[f"{backend}_faults"] = report
    finally:
        databases.close()
    results["logs"] = str(logs)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", default="crash,faults", help="crash, faults or both")
    parser.add_argument("--storm-s", type=float, default=30.0, help="the 429 storm's length")
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
    args.runs = [run for run in args.runs.split(",") if run]
    print("machine:", json.dumps(machine()))
    print(
        "parameters:",
        json.dumps(
            {
                "backends": args.backends,
                "runs": args.runs,
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
                "faults": {
                    "error_5xx": 0.05,
                    "drop": 0.02,
                    "slow": 0.01,
                    "slow_s": 2.0,
                    "telegram_timeout_s": 1.0,
                    "storm_s": args.storm_s,
                },
                "lease_s": args.lease_s,
                "worker_max_bots": {"postgresql": args.max_bots, "sqlite": args.bots},
                "seed": args.seed,
            }
        ),
        flush=True,
    )
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
