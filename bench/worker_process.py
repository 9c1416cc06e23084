"""Harness pieces shared by the scale benchmarks: `disparo worker` processes watched with psutil,
waiting for shots to settle, and what the simulator saw per bot.

The worker runs as the product ships it (`python -m disparo worker`, its own process, logs to
a file), so its CPU time and peak RSS are its own and not the benchmark's. Database set-up and
seeding come from `throughput.py`; the simulator's process around a run, from `harness.py`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db.engine import Database
from disparo.db.tables import shots_queue, shots_sent
from throughput import sim_get

FINAL = ("sent", "skipped", "error", "cancelled")


def _peak_rss_bytes(pid: int) -> int:
    """The kernel's high-water mark of the process's resident set (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class ProcessSample:
    """CPU seconds and memory of one worker process, sampled while it runs."""

    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    rss_mb_samples: list[float] = field(default_factory=list)


class WorkerProcess:
    """`python -m disparo worker` with DISPARO_* settings; CPU and RSS read through psutil.

    CPU is counted from `mark()` (call it once the worker is up and idle) to `stop()`;
    RSS is sampled every `sample_s` in a thread and the peak is the kernel's VmHWM.
    """

    def __init__(
        self,
        database_url: URL,
        sim: str,
        *,
        max_bots: int = 50,
        env: dict[str, str] | None = None,
        sample_s: float = 0.25,
        log_path: Path | None = None,
        argv: Sequence[str] = (),
    ) -> None:
        self.log_path = log_path or Path(
            tempfile.mkstemp(prefix="disparo-worker-", suffix=".log")[1]
        )
        settings = {
            "DISPARO_DATABASE_URL": database_url.render_as_string(hide_password=False),
            "DISPARO_TELEGRAM_API_URL": sim,
            "DISPARO_WORKER_MAX_BOTS": str(max_bots),
            "DISPARO_LOG_LEVEL": "INFO",
        }
        full_env = {**os.environ, **settings, **(env or {})}
        full_env.pop("DISPARO_SECRET_KEY", None)  # the benchmarks store plain test tokens
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "disparo", "worker", *argv],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=tempfile.gettempdir(),  # no stray .env file picked up
        )
        self.ps = psutil.Process(self.process.pid)
        self.sample = ProcessSample()
        self._cpu0 = 0.0
        self._sample_s = sample_s
        self._sampling = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, daemon=True)
        self._thread.start()

    def _cpu(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def _sample_loop(self) -> None:
        while not self._sampling.wait(self._sample_s):
            try:
                self.sample.rss_mb_samples.append(self.ps.memory_info().rss / 2**20)
            except psutil.Error:
                return

    async def ready(self, timeout_s: float = 20.0) -> None:
        """Wait for the worker's `started` log line."""
        deadline = time.monotonic() + timeout_s
        while b"[SHOTS][WORKER] started" not in self.log_path.read_bytes():
            if self.process.poll() is not None:
                raise SystemExit(f"the worker exited with {self.process.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start: {self.tail()}")
            await asyncio.sleep(0.05)

    def mark(self) -> None:
        """Start counting CPU from now."""
        self._cpu0 = self._cpu()

    def cpu_since_mark(self) -> float:
        """CPU seconds the worker used since `mark()`."""
        return self._cpu() - self._cpu0

    def stop(self, timeout_s: float = 30.0) -> ProcessSample:
        """SIGTERM (the clean stop), wait, and return the figures."""
        if self.process.poll() is None:
            self.sample.cpu_s = self.cpu_since_mark()
            self.sample.peak_rss_mb = _peak_rss_bytes(self.process.pid) / 2**20
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._sampling.set()
        self._thread.join(timeout=2)
        self._log.close()
        return self.sample

    def tail(self, lines: int = 20) -> str:
        """The end of the worker's log."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_count(self, needle: str) -> int:
        """How many log lines contain `needle`."""
        return sum(
            needle in line for line in self.log_path.read_text(errors="replace").splitlines()
        )


def start_profiler(path: Path | None, pid: int) -> subprocess.Popen[bytes] | None:
    """`py-spy record` of process `pid` into `path` (flame graph .svg, or collapsed stacks for
    any other suffix); None when no path is given."""
    if path is None:
        return None
    fmt = "flamegraph" if path.suffix == ".svg" else "raw"
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--rate",
            "250",
            "--format",
            fmt,
            "-o",
            str(path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    """Stop `py-spy record` so it writes its file."""
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=30)


def postgres_cpu_s() -> dict[int, float]:
    """CPU seconds of every PostgreSQL server process now, by pid."""
    seconds: dict[int, float] = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        name = process.info["name"] or ""
        times = process.info["cpu_times"]
        if name.startswith("postgres") and times is not None:
            seconds[process.pid] = times.user + times.system
    return seconds


def process_cpu_s(pid: int) -> float:
    """CPU seconds of one process."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@dataclass
class Run:
    """One timed run of worker processes: when the shots were due, and who used which CPU."""

    scheduled_at: datetime
    settled: bool
    wall_s: float
    worker_cpu_s: list[float]
    simulator_cpu_s: float
    postgresql_cpu_s: float
    samples: list[ProcessSample]
    wal_bytes: int | None = None  # PostgreSQL's WAL written meanwhile (the whole server's)

    def cpu_share(self) -> dict[str, Any]:
        """CPU seconds of each part during the run (the machine has `cores` of them)."""
        return {
            "wall_s": self.wall_s,
            "workers_s": sum(self.worker_cpu_s),
            "workers_each_s": self.worker_cpu_s,
            "simulator_s": self.simulator_cpu_s,
            "postgresql_s": self.postgresql_cpu_s,
            "postgresql_wal_bytes": self.wal_bytes,
            "cores": psutil.cpu_count(),
            "load_avg_1m_at_end": os.getloadavg()[0],  # other processes on the machine count
        }


async def run_workers(
    db: Database,
    sim: str,
    simulator_pid: int,
    queue: Callable[[], Awaitable[datetime]],
    *,
    workers: int = 1,
    max_bots: int = 50,
    cap_s: float = 180.0,
    profile: Path | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    """Start `workers` worker processes, let them idle, `queue()` the shots, wait until every
    shot is final (or `cap_s`), stop the workers cleanly; the figures."""
    processes = [WorkerProcess(db.url, sim, max_bots=max_bots, env=env) for _ in range(workers)]
    try:
        for worker in processes:
            await worker.ready()
        await asyncio.sleep(1.0)  # up and idle, as in production
        for worker in processes:
            worker.mark()
        profiler = start_profiler(profile, processes[0].process.pid)
        sim0, pg0, wal0 = process_cpu_s(simulator_pid), postgres_cpu_s(), await wal_lsn(db)
        wall0 = time.monotonic()
        scheduled_at = await queue()
        settled = await wait_settled(db, cap_s=cap_s, poll_s=1.0)
        wall = time.monotonic() - wall0
        sim_cpu = process_cpu_s(simulator_pid) - sim0
        pg_cpu = sum(v - pg0.get(pid, 0.0) for pid, v in postgres_cpu_s().items())
        wal1 = await wal_lsn(db)
        cpu_each = [w.cpu_since_mark() for w in processes]
        stop_profiler(profiler)
    finally:
        samples = [w.stop() for w in processes]
    wal = None if wal0 is None or wal1 is None else wal1 - wal0
    return Run(scheduled_at, settled, wall, cpu_each, sim_cpu, pg_cpu, samples, wal)


async def wal_lsn(db: Database) -> int | None:
    """PostgreSQL's current WAL position in bytes (None on SQLite)."""
    if db.is_sqlite:
        return None
    async with db.read() as conn:
        lsn = await conn.scalar(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
    return int(lsn)


async def wait_settled(db: Database, *, cap_s: float, poll_s: float = 0.5) -> bool:
    """Wait until every shot is final (True) or `cap_s` passed (False)."""
    deadline = time.monotonic() + cap_s
    query = select(func.count()).where(shots_queue.c.status.not_in(FINAL))
    while time.monotonic() < deadline:
        async with db.read() as conn:
            if not await conn.scalar(query):
                return True
        await asyncio.sleep(poll_s)
    return False


async def delivery_statuses(db: Database) -> dict[str, int]:
    """Every `shots_sent` row counted by status."""
    query = select(shots_sent.c.status, func.count()).group_by(shots_sent.c.status)
    async with db.read() as conn:
        return {str(status): int(n) for status, n in await conn.execute(query)}


@dataclass
class SimFigures:
    """What the simulator saw for a set of bots."""

    times: list[float]  # wall time of every delivered message, sorted
    per_bot: dict[str, list[float]]
    http_429: int
    duplicates: int
    requests: int
    unpaid: int  # delivered messages without allow_paid_broadcast


def sim_figures(sim: str, tokens: Iterable[str]) -> SimFigures:
    """Deliveries, 429s and duplicates of these bots, read from the simulator's control API."""
    stats = sim_get(sim, "stats")["bots"]
    times: list[float] = []
    per_bot: dict[str, list[float]] = {}
    http_429 = duplicates = requests = unpaid = 0
    for token in tokens:
        bot_id = token.partition(":")[0]
        messages = sim_get(sim, f"bots/{token}/messages")
        bot_times = sorted(m["time"] for m in messages)
        unpaid += sum(1 for m in messages if not m["allow_paid_broadcast"])
        per_bot[bot_id] = bot_times
        times.extend(bot_times)
        counters = stats.get(bot_id, {})
        http_429 += counters.get("429", 0)
        duplicates += counters.get("duplicates", {}).get("count", 0)
        requests += counters.get("requests", 0)
    times.sort()
    return SimFigures(times, per_bot, http_429, duplicates, requests, unpaid)


def rate(times: Sequence[float]) -> float:
    """Messages per second between the first and the last of `times` (sorted)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def steady_rate(per_bot: dict[str, list[float]]) -> tuple[float, float]:
    """The aggregate rate while every bot was sending: (messages/s, seconds of that window).

    The window runs from the moment the last bot sent its first message to the moment the
    first bot sent its last one; ramp-up and tail are outside it.
    """
    bots = [t for t in per_bot.values() if t]
    if not bots:
        return 0.0, 0.0
    start = max(t[0] for t in bots)
    end = min(t[-1] for t in bots)
    if end <= start:
        return 0.0, 0.0
    inside = sum(sum(1 for x in t if start <= x <= end) for t in bots)
    return inside / (end - start), end - start


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (0–1) of `values`, nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of `values`, rounded to milliseconds."""
    if not values:
        return {}
    return {
        "p50": round(statistics.median(values), 3),
        "p99": round(percentile(values, 0.99), 3),
        "max": round(max(values), 3),
    }
