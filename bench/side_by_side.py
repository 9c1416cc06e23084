"""Side by side, same run, same simulator: the spec's worker, python-telegram-bot's
AIORateLimiter, aiogram's broadcast pattern and Disparo, each in its own process.

Scenarios: one bot × 3,000 recipients, and 20 bots × 500 recipients (all at the default 30/s
per bot, 40 ± 10 ms answers). For each scenario and engine, the simulator is reset and, where
the engine reads a database (spec, Disparo), a fresh PostgreSQL database is seeded and one
shot per bot is queued due now. Engines:

  spec      bench/baselines/spec_worker.py: one shot at a time for the whole system, chunks of
            10 concurrent, 25 req/s, sub-batches of 50, 10 s poll, 30 s back-off on a 429
  ptb       bench/baselines/ptb_broadcast.py: AIORateLimiter() defaults, every message at once,
            the limiter paces them; a 429 is slept and retried by the loop
  aiogram   bench/baselines/aiogram_broadcast.py: one by one, 50 ms sleep, retry on
            TelegramRetryAfter
  disparo   `python -m disparo worker`

Each run stops when every recipient has an outcome or after --cap-s. Throughput is deliveries
from the first to the last one at the simulator, as a ratio of the limit (30/s × bots).
Prints the machine, the parameters and one JSON object with, per scenario and engine:
ratio, achieved_per_s, delivered, http_429, duplicates, cpu_us_per_message, capped.

    .venv/bin/python bench/side_by_side.py [--engines spec,ptb,aiogram,disparo] [--cap-s 150]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import fresh_database, print_setup, run_with_simulator
from throughput import jsonable, queue_shots, seed, sim_post
from worker_process import (
    delivery_statuses,
    process_cpu_s,
    rate,
    run_workers,
    sim_figures,
    wait_settled,
)

SCENARIOS = {"1x3000": (1, 3000), "20x500": (20, 500)}
ENGINES = ("spec", "ptb", "aiogram", "disparo")
LIMIT_PER_BOT = 30
PEERS = Path(__file__).resolve().parent / "baselines" / "peers.py"


class Peer:
    """A peer broadcaster in its own process (bench/baselines/peers.py)."""

    def __init__(self, peer: str, *argv: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(PEERS), peer, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdin is not None
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit(f"the {peer} peer did not start")
        self.cpu0 = process_cpu_s(self.process.pid)

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def cpu_s(self) -> float:
        """CPU seconds since the go: read live, or from the peer's own report once it ended."""
        if self.process.poll() is None:
            return process_cpu_s(self.process.pid) - self.cpu0
        assert self.process.stdout is not None
        lines = self.process.stdout.read().strip().splitlines()
        return float(json.loads(lines[-1])["cpu_s"]) if lines else float("nan")

    async def finished(self, cap_s: float) -> bool:
        deadline = time.monotonic() + cap_s
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.5)
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # the spec's worker finishes a shot first
                self.process.kill()
                self.process.wait()


async def run_engine(
    engine: str, scenario: str, sim: str, simulator_pid: int, cap_s: float
) -> dict[str, Any]:
    bot_count, recipients = SCENARIOS[scenario]
    statuses: dict[str, int] = {}
    async with fresh_database("postgresql", f"{engine}_{scenario.replace('x', '_')}") as db:
        tokens = await seed(db, bot_count, recipients, LIMIT_PER_BOT)
        began = time.monotonic()
        if engine == "disparo":
            run = await run_workers(
                db, sim, simulator_pid, lambda: queue_shots(db, bot_count), cap_s=cap_s
            )
            cpu_s, settled = sum(run.worker_cpu_s), run.settled
        elif engine == "spec":
            peer = Peer("spec", "--sim", sim, "--database-url", db.url.render_as_string(False))
            try:
                peer.go()
                await queue_shots(db, bot_count)
                settled = await wait_settled(db, cap_s=cap_s, poll_s=1.0)
                cpu_s = peer.cpu_s()
            finally:
                peer.stop()
        else:
            peer = Peer(
                engine, "--sim", sim, "--tokens", ",".join(tokens), "--chats", str(recipients)
            )
            try:
                peer.go()
                settled = await peer.finished(cap_s)
                cpu_s = peer.cpu_s()
            finally:
                peer.stop()
        wall = time.monotonic() - began
        if engine in ("spec", "disparo"):
            statuses = await delivery_statuses(db)
    figures = sim_figures(sim, tokens)
    delivered = len(figures.times)
    achieved = rate(figures.times)
    limit = LIMIT_PER_BOT * bot_count
    return {
        "scenario": scenario,
        "engine": engine,
        "ratio": achieved / limit,
        "achieved_per_s": achieved,
        "limit_per_s": limit,
        "delivered": delivered,
        "audience": bot_count * recipients,
        "http_429": figures.http_429,
        "duplicates": figures.duplicates,
        "cpu_us_per_message": cpu_s / delivered * 1e6 if delivered else None,
        "wall_s": wall,
        "capped": not settled,
        "deliveries": statuses or None,
    }


async def main_async(args: argparse.Namespace, sim: str, simulator_pid: int) -> list[Any]:
    results = []
    for scenario in args.scenarios:
        for engine in args.engines:
            sim_post(sim, "reset", {})
            result = await run_engine(engine, scenario, sim, simulator_pid, args.cap_s)
            print(json.dumps(jsonable(result)), file=sys.stderr, flush=True)
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--cap-s", type=float, default=150.0, help="longest run of one engine")
    parser.add_argument("--port", type=int, default=0, help="simulator port (0: a free one)")
    args = parser.parse_args()
    args.engines = [e for e in args.engines.split(",") if e]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    print_setup(
        {
            "scenarios": {k: {"bots": v[0], "recipients": v[1]} for k, v in SCENARIOS.items()},
            "engines": args.engines,
            "bot_rate_per_s": LIMIT_PER_BOT,
            "cap_s": args.cap_s,
            "simulator": "python -m disparo simulator (defaults: 30/s per bot, 40±10 ms)",
            "database": "PostgreSQL (spec and disparo)",
        }
    )
    results = run_with_simulator(args.port, lambda sim, pid: main_async(args, sim, pid))
    print(json.dumps({"results": jsonable(results)}, indent=1))


if __name__ == "__main__":
    main()
