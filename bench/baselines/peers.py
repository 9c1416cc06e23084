"""Runs one peer broadcaster in its own process, so its CPU is measured like Disparo's worker.

    python bench/baselines/peers.py ptb|aiogram --sim URL --tokens T1,T2 --chats N [--first-id I]
    python bench/baselines/peers.py spec --sim URL --database-url URL

The process prints `ready` once imported and set up, waits for a line on stdin, runs, and
prints one JSON object: outcome counts and the CPU seconds it used since the go. `spec` runs
the spec's worker until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from baselines.aiogram_broadcast import aiogram_broadcast
from baselines.ptb_broadcast import ptb_broadcast
from baselines.spec_worker import run_spec_worker
from disparo.db.engine import Database
from disparo.db.urls import parse_database_url
from disparo.telegram import BotAPI

COPY = "<b>Oferta</b> relâmpago: só hoje!"


async def run_library(args: argparse.Namespace) -> Counter[str]:
    broadcast = ptb_broadcast if args.peer == "ptb" else aiogram_broadcast
    chat_ids = list(range(args.first_id, args.first_id + args.chats))
    results = await asyncio.gather(
        *(broadcast(args.sim, token, chat_ids, COPY) for token in args.tokens.split(","))
    )
    return sum(results, Counter())


async def run_spec(args: argparse.Namespace) -> Counter[str]:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    db = Database(parse_database_url(args.database_url))
    try:
        async with BotAPI(args.sim) as api:
            await run_spec_worker(db, api, stop)
    finally:
        await db.dispose()
    return Counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("peer", choices=("ptb", "aiogram", "spec"))
    parser.add_argument("--sim", required=True)
    parser.add_argument("--tokens", default="")
    parser.add_argument("--chats", type=int, default=0)
    parser.add_argument("--first-id", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print("ready", flush=True)
    sys.stdin.readline()
    cpu0 = time.process_time()
    runner = run_spec if args.peer == "spec" else run_library
    counts = asyncio.run(runner(args))
    print(json.dumps({"counts": dict(counts), "cpu_s": time.process_time() - cpu0}), flush=True)


if __name__ == "__main__":
    main()
