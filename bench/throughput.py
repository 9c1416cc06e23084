"""Throughput of the engine against the simulator, with the spec's worker as a baseline.

Scenarios, on SQLite and PostgreSQL, against `python -m disparo simulator` in its own process
at its default limits (30 messages/s per bot, 40 ± 10 ms answers):

  a         one bot, 3,000 recipients, the bot's rate set to 30/s
  b         20 bots in parallel, 1,000 recipients each (aggregate limit 600/s)
  spec_a    the spec's algorithm (one shot at a time for the whole system, chunks of 10
            concurrent, 25 req/s cap, 10 s poll) on scenario a
  spec_b    the same on scenario b, stopped after --baseline-cap-s (it would need ~15 min)

Prints the machine, the parameters, then one JSON object with, per backend and scenario:
achieved_per_s, limit_per_s, ratio, http_429, duplicates, unknown, cpu_s_per_message,
first_send_s (from scheduled_at to the first delivery), duration_s, messages.

    .venv/bin/python bench/throughput.py                        # everything, both backends
    .venv/bin/python bench/throughput.py --backend sqlite --scenarios a,b
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert, select, text
from sqlalchemy.engine import URL, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines.spec_worker import run_spec_worker
from disparo.db import migrate
from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.db.store import SqlShotStore
from disparo.db.tables import bots, shots_queue, shots_sent, telegram_contacts
from disparo.engine.worker import Worker, WorkerSettings
from disparo.services import freeze_startup_heap, run_on_fast_loop
from disparo.telegram import BotAPI
from disparo.telegram.bot import Bot

PG_ADMIN = os.environ.get(
    "DISPARO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SCENARIOS = {
    "a": {"bots": 1, "recipients": 3000, "engine": "disparo"},
    "b": {"bots": 20, "recipients": 1000, "engine": "disparo"},
    "spec_a": {"bots": 1, "recipients": 3000, "engine": "spec"},
    "spec_b": {"bots": 20, "recipients": 1000, "engine": "spec"},
}
FINAL = ("sent", "skipped", "error", "cancelled")

# (bot id, chat id) -> wall time the request was handed to the HTTP client, for every request
# the benchmark process makes: compared with the simulator's arrival times it tells our pacing
# (how many requests we wrote per second) apart from delays on the way (how late they arrived).
WRITES: dict[tuple[int, int], float] = {}
_call = Bot.call


async def _recording_call(self: Bot, method: str, params: Any, **kwargs: Any) -> Any:
    WRITES[(self.bot_id, params["chat_id"])] = time.time()
    return await _call(self, method, params, **kwargs)


Bot.call = _recording_call  # type: ignore[method-assign]


def most_in_one_second(times: list[float]) -> int:
    """The most events in any window of one second (the simulator's rule: 30 per bot)."""
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def quantile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 1) if values else 0


def jsonable(value: Any) -> Any:
    """Round floats for the printed JSON."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def machine() -> dict[str, Any]:
    """What ran the benchmark."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            postgres = row[0] if row else "?"
    except psycopg.Error:
        postgres = "unreachable"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": postgres,
    }


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    """The simulator in its own process, at its default limits and latency."""
    process = subprocess.Popen(
        [sys.executable, "-m", "disparo", "simulator", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the simulator exited with {process.returncode} (port {port} busy?)")
        try:
            url = f"http://127.0.0.1:{port}/sim/stats"
            with urllib.request.urlopen(url, timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the simulator did not start")


def sim_get(base: str, path: str) -> Any:
    url = f"{base}/sim/{path}"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - our simulator
        return json.loads(response.read())["result"]


def sim_post(base: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(  # noqa: S310 - our own local simulator
        f"{base}/sim/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - ours
        return json.loads(response.read())["result"]


class Databases:
    """Fresh migrated databases for each run; all removed at the end."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="disparo-bench-"))
        self.pg_names: list[str] = []

    def fresh(self, backend: str, name: str) -> URL:
        if backend == "sqlite":
            url = make_url(f"sqlite:///{self.tmp / name}.sqlite3")
        else:
            db_name = f"disparo_bench_{os.getpid()}_{name}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
                admin.execute(f'CREATE DATABASE "{db_name}"')
            self.pg_names.append(db_name)
            url = make_url(PG_ADMIN).set(database=db_name)
        migrate.upgrade(url)
        return url

    def close(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for db_name in self.pg_names:
                admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def token_for(bot_id: int) -> str:
    return f"{bot_id}:{'B' * 20}{bot_id:015d}"


async def seed(
    db: Database, bot_count: int, recipients: int, rate: int, *, paid_broadcast: bool = False
) -> list[str]:
    """Bots with `recipients` contacts each; their tokens."""
    tokens = []
    async with db.write() as conn:
        for index in range(bot_count):
            token = token_for(random.randrange(10**9, 10**10))
            tokens.append(token)
            slug = f"bot{index:02d}"
            await conn.execute(
                insert(bots).values(
                    slug=slug,
                    token=token,
                    rate_per_s=rate,
                    paid_broadcast=paid_broadcast,
                    webhook_secret="s" * 24,
                )
            )
            now = datetime.now(UTC)
            await conn.execute(
                insert(telegram_contacts),
                [
                    {
                        "bot_slug": slug,
                        "telegram_id": 10_000 + n,
                        "last_interaction_at": now,
                        "updated_at": now,
                    }
                    for n in range(recipients)
                ],
            )
    return tokens


async def queue_shots(db: Database, bot_count: int) -> datetime:
    """One due shot per bot, queued in one commit that wakes the workers; scheduled_at."""
    now = datetime.now(UTC)
    async with db.write(wake=True) as conn:
        await conn.execute(
            insert(shots_queue),
            [
                {
                    "bot_slug": f"bot{index:02d}",
                    "target": "started",
                    "copy": "<b>Oferta</b> relâmpago: só hoje!",
                    "scheduled_at": now,
                }
                for index in range(bot_count)
            ],
        )
    return now


async def all_final(db: Database) -> bool:
    async with db.read() as conn:
        statuses = (await conn.scalars(select(shots_queue.c.status))).all()
    return all(status in FINAL for status in statuses)


async def run_one(backend: str, name: str, url: URL, sim: str, cap_s: float) -> dict[str, Any]:
    spec = SCENARIOS[name]
    bot_count, recipients = int(spec["bots"]), int(spec["recipients"])
    WRITES.clear()
    db = Database(url, pool_size=10)
    tokens = await seed(db, bot_count, recipients, 30)
    stop = asyncio.Event()
    async with BotAPI(sim) as api:
        if spec["engine"] == "disparo":
            store = SqlShotStore(db, TokenCipher(None))
            worker = Worker(store, api, settings=WorkerSettings())
            freeze_startup_heap()  # as `disparo worker` does
            task = asyncio.create_task(worker.run(stop))
        else:
            task = asyncio.create_task(run_spec_worker(db, api, stop))
        await asyncio.sleep(0.5)  # the worker is up and idle, as in production
        cpu0, rss0 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        scheduled_at = await queue_shots(db, bot_count)
        started = time.monotonic()
        while not await all_final(db) and time.monotonic() - started < cap_s:  # noqa: ASYNC110
            await asyncio.sleep(1.0)  # polling the database is the point (cheaply)
        stop.set()
        await task
        cpu_s = time.process_time() - cpu0
    async with db.read() as conn:
        unknown = await conn.scalar(
            select(text("count(*)")).select_from(shots_sent).where(shots_sent.c.status == "unknown")
        )
    await db.dispose()
    times: list[float] = []
    delays: list[float] = []
    most_written = most_arrived = 0
    http_429 = duplicates = 0
    stats = sim_get(sim, "stats")["bots"]
    for token in tokens:
        bot_id = token.partition(":")[0]
        arrived = sorted((m["time"], m["chat_id"]) for m in sim_get(sim, f"bots/{token}/messages"))
        times.extend(t for t, _ in arrived)
        written = sorted(t for (b, _), t in WRITES.items() if b == int(bot_id))
        most_written = max(most_written, most_in_one_second(written))
        most_arrived = max(most_arrived, most_in_one_second([t for t, _ in arrived]))
        delays.extend(
            t - WRITES[(int(bot_id), chat)] for t, chat in arrived if (int(bot_id), chat) in WRITES
        )
        http_429 += stats.get(bot_id, {}).get("429", 0)
        duplicates += stats.get(bot_id, {}).get("duplicates", {}).get("count", 0)
    times.sort()
    messages = len(times)
    span = times[-1] - times[0] if messages > 1 else float("nan")
    achieved = (messages - 1) / span if messages > 1 else 0.0
    limit = 30.0 * bot_count
    return {
        "backend": backend,
        "scenario": name,
        "engine": spec["engine"],
        "bots": bot_count,
        "recipients_per_bot": recipients,
        "messages": messages,
        "achieved_per_s": round(achieved, 2),
        "limit_per_s": limit,
        "ratio": round(achieved / limit, 4),
        "http_429": http_429,
        "duplicates": duplicates,
        "unknown": int(unknown or 0),
        "cpu_s_per_message": round(cpu_s / messages, 6) if messages else None,
        "first_send_s": round(times[0] - scheduled_at.timestamp(), 3) if times else None,
        "duration_s": round(span, 2),
        "peak_rss_mb_growth": round(
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1
        ),
        "capped": time.monotonic() - started >= cap_s,
        "most_written_per_bot_in_1s": most_written,
        "most_arrived_per_bot_in_1s": most_arrived,
        "write_to_arrival_ms": {
            "p50": quantile_ms(delays, 0.5),
            "p99": quantile_ms(delays, 0.99),
            "max": quantile_ms(delays, 1.0),
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    databases = Databases()
    args.port = args.port or free_port()
    simulator = start_simulator(args.port)
    sim = f"http://127.0.0.1:{args.port}"
    try:
        for backend in args.backends:
            for name in args.scenarios:
                sim_post(sim, "reset", {})
                url = databases.fresh(backend, name)
                cap = args.baseline_cap_s if name == "spec_b" else args.cap_s
                result = await run_one(backend, name, url, sim, cap)
                print(json.dumps(result), file=sys.stderr, flush=True)
                results.append(result)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        databases.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--scenarios", default="a,b,spec_a,spec_b")
    parser.add_argument("--port", type=int, default=0, help="simulator port (0: a free one)")
    parser.add_argument("--cap-s", type=float, default=600.0, help="longest run of a scenario")
    parser.add_argument("--baseline-cap-s", type=float, default=60.0, help="longest spec_b run")
    args = parser.parse_args()
    args.backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    print("machine:", json.dumps(machine()))
    print(
        "parameters:",
        json.dumps(
            {
                "backends": args.backends,
                "scenarios": {name: SCENARIOS[name] for name in args.scenarios},
                "simulator": "python -m disparo simulator (defaults: 30/s per bot, 40±10 ms)",
                "bot_rate_per_s": 30,
                "worker": "WorkerSettings() defaults, in this process; simulator in its own",
                "baseline_cap_s": args.baseline_cap_s,
            }
        ),
        flush=True,
    )
    results: list[dict[str, Any]] = []

    async def run_all() -> None:
        results.extend(await main_async(args))

    run_on_fast_loop(run_all())  # the loop `disparo worker` runs on
    print(json.dumps({"results": results}, indent=1))


if __name__ == "__main__":
    main()
