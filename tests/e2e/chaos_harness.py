"""Break Disparo for real: processes, kills, faults, and the ledger that proves what happened.

Shared by the e2e reliability tests and `bench/chaos.py`. Everything here runs real processes
(`disparo simulator`, `disparo worker`, `disparo serve`) on a real database and checks their
work from the outside: the simulator's record of every delivered message, the `shots_sent`
rows, and the JSON log lines of every worker incarnation.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import URL

from disparo.db.engine import Database
from disparo.db.tables import bots, shots_queue, shots_sent, telegram_contacts

FINAL_SHOT = ("sent", "skipped", "error", "cancelled")
FINAL_DELIVERY = ("sent", "skipped", "error", "unknown")
ADMIN_TOKEN = "chaos-admin-token-3f9a1c77e2"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def token_for(bot_id: int) -> str:
    """A well-formed bot token the simulator accepts."""
    return f"{bot_id}:{'C' * 20}{bot_id:015d}"


# processes ------------------------------------------------------------------------------------


class Simulator:
    """`disparo simulator` in its own process, and its control API."""

    def __init__(self, log_dir: Path, *, latency_ms: float = 40.0, slow_s: float = 15.0) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log = (log_dir / "simulator.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "disparo",
                "simulator",
                "--port",
                str(self.port),
                "--latency-ms",
                str(latency_ms),
                "--latency-jitter-ms",
                str(latency_ms / 4),
                "--slow-s",
                str(slow_s),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the simulator exited with {self.process.returncode}")
            try:
                self.get("health")
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the simulator did not start within 20 s") from None
                time.sleep(0.05)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}/sim/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["result"]

    def get(self, path: str) -> Any:
        """GET /sim/<path>; its result."""
        return self._call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        """POST /sim/<path>; its result."""
        return self._call("POST", path, body)

    def stats(self) -> dict[str, Any]:
        """Per-bot counters, keyed by bot id."""
        result: dict[str, Any] = self.get("stats")["bots"]
        return result

    def messages(self, token: str) -> list[dict[str, Any]]:
        """Every message the bot delivered, in order."""
        result: list[dict[str, Any]] = self.get(f"bots/{token}/messages")
        return result

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within 10 s."""
        stop_process(self.process)
        self._log.close()


def stop_process(process: subprocess.Popen[bytes], *, timeout_s: float = 10.0) -> None:
    """End a process we started: SIGTERM, then SIGKILL after `timeout_s`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)


@dataclass
class Incarnation:
    """One run of a restartable process: its pid, lifetime and log file."""

    pid: int
    log_path: Path
    started: float  # wall time
    ended: float | None = None
    how: str = "running"  # running, killed, terminated, exited


@dataclass
class Slot:
    """A restartable `disparo` process (worker or serve) with its environment."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    runs: list[Incarnation] = field(default_factory=list)
    _log: Any = None

    @property
    def alive(self) -> bool:
        """True while the current incarnation runs."""
        return self.process is not None and self.process.poll() is None

    @property
    def current(self) -> Incarnation:
        """The latest incarnation."""
        return self.runs[-1]

    def start(self) -> Incarnation:
        """Start a new incarnation, its stderr in its own log file."""
        path = self.log_dir / f"{self.name}-{len(self.runs) + 1:03d}.log"
        self._log = path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "disparo", *self.argv],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        run = Incarnation(self.process.pid, path, time.time())
        self.runs.append(run)
        return run

    def _ended(self, how: str) -> Incarnation:
        run = self.current
        run.ended, run.how = time.time(), how
        if self._log is not None:
            self._log.close()
            self._log = None
        return run

    def kill(self) -> Incarnation:
        """kill -9 the current incarnation and reap it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        return self._ended("killed")

    def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM the current incarnation and wait for it; its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            self._ended("killed")
            raise
        self._ended("terminated")
        return code

    def stop(self) -> None:
        """Teardown: end the current incarnation whatever its state."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.terminate(timeout_s=15)
        elif self.runs and self.current.ended is None:
            self._ended("exited")

    def log_lines(self) -> Iterator[tuple[Incarnation, dict[str, Any]]]:
        """Every JSON log line of every incarnation (non-JSON lines are skipped)."""
        for run in self.runs:
            for raw in run.log_path.read_text(errors="replace").splitlines():
                if raw.startswith("{"):
                    try:
                        yield run, json.loads(raw)
                    except ValueError:
                        continue


def check_alive(slots: list[Slot]) -> None:
    """Fail, with the end of its log, if a process died without being killed."""
    for slot in slots:
        if slot.runs and not slot.alive:
            tail = slot.current.log_path.read_text(errors="replace")[-2000:]
            raise AssertionError(f"{slot.name} exited by itself:\n{tail}")


def engine_env(
    db_url: URL,
    sim_base: str,
    *,
    lease_s: float = 5.0,
    max_bots: int = 50,
    telegram_timeout_s: float = 10.0,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a `disparo worker` or `disparo serve` process for these tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPARO_")}
    env.update(
        {
            "DISPARO_DATABASE_URL": db_url.render_as_string(hide_password=False),
            "DISPARO_TELEGRAM_API_URL": sim_base,
            "DISPARO_LEASE_S": str(lease_s),
            "DISPARO_POLL_INTERVAL_S": "0.25",
            "DISPARO_WORKER_MAX_BOTS": str(max_bots),
            "DISPARO_TELEGRAM_TIMEOUT_S": str(telegram_timeout_s),
            "DISPARO_LOG_FORMAT": "json",
            "DISPARO_ADMIN_TOKEN": ADMIN_TOKEN,
        }
    )
    env.update(extra or {})
    return env


# data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BotShot:
    """A seeded bot and its one text shot."""

    slug: str
    token: str
    shot_id: int
    recipients: int


async def seed(
    db: Database,
    *,
    bot_count: int,
    recipients: int,
    rate_per_s: int,
    paid_broadcast: bool,
    first_bot_id: int = 6_100_000_001,
    due: bool = True,
) -> list[BotShot]:
    """`bot_count` bots with `recipients` contacts each and one text shot each."""
    seeded = []
    now = datetime.now(UTC)
    async with db.write(wake=True) as conn:
        for index in range(bot_count):
            slug = f"chaos{index:02d}"
            token = token_for(first_bot_id + index)
            await conn.execute(
                insert(bots).values(
                    slug=slug,
                    token=token,
                    rate_per_s=rate_per_s,
                    paid_broadcast=paid_broadcast,
                    webhook_secret="s" * 24,
                )
            )
            await conn.execute(
                insert(telegram_contacts),
                [
                    {
                        "bot_slug": slug,
                        "telegram_id": 1_000_000 + n,
                        "last_interaction_at": now - timedelta(minutes=n % 997),
                        "updated_at": now,
                    }
                    for n in range(recipients)
                ],
            )
            shot_id = (
                await conn.execute(
                    insert(shots_queue)
                    .values(
                        bot_slug=slug,
                        target="started",
                        copy=f"<b>{slug}</b> oferta relâmpago",
                        scheduled_at=now - timedelta(seconds=1) if due else now + timedelta(days=1),
                    )
                    .returning(shots_queue.c.id)
                )
            ).scalar_one()
            seeded.append(BotShot(slug, token, int(shot_id), recipients))
    return seeded


async def shot_rows(db: Database) -> dict[int, Any]:
    """Every shot's row by id."""
    async with db.read() as conn:
        rows = (await conn.execute(select(shots_queue))).mappings().all()
    return {int(row["id"]): row for row in rows}


async def all_finished(db: Database, shot_ids: list[int]) -> bool:
    """True when every shot reached a final status."""
    rows = await shot_rows(db)
    return all(rows[shot_id]["status"] in FINAL_SHOT for shot_id in shot_ids)


async def delivery_counts(db: Database) -> dict[int, Counter[str]]:
    """shot id → how many deliveries are in each status."""
    query = select(shots_sent.c.shot_id, shots_sent.c.status, func.count()).group_by(
        shots_sent.c.shot_id, shots_sent.c.status
    )
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    async with db.read() as conn:
        for shot_id, status, count in await conn.execute(query):
            counts[int(shot_id)][str(status)] += int(count)
    return counts


async def stranded_by(db: Database, pid: int) -> dict[int, int]:
    """shot id → deliveries left `sending` in the shots the process `pid` holds the lease of.

    Measured right after a kill -9, this is exactly what the kill will turn `unknown`.
    """
    query = (
        select(shots_queue.c.id, func.count(shots_sent.c.telegram_id))
        .select_from(
            shots_queue.outerjoin(
                shots_sent,
                (shots_sent.c.shot_id == shots_queue.c.id) & (shots_sent.c.status == "sending"),
            )
        )
        .where(shots_queue.c.locked_by.like(f"%:{pid}:%"))
        .group_by(shots_queue.c.id)
    )
    async with db.read() as conn:
        return {int(shot_id): int(n) for shot_id, n in await conn.execute(query)}


async def ledger(db: Database, shot_id: int) -> dict[int, tuple[str, int | None]]:
    """telegram_id → (status, message_id) of every delivery of the shot."""
    query = select(shots_sent.c.telegram_id, shots_sent.c.status, shots_sent.c.message_id).where(
        shots_sent.c.shot_id == shot_id
    )
    async with db.read() as conn:
        return {int(t): (str(s), m) for t, s, m in await conn.execute(query)}


async def wait_until(predicate: Any, *, timeout_s: float, what: str, every_s: float = 0.1) -> float:
    """Poll an async predicate until true; the seconds it took. Fails after `timeout_s`."""
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(every_s)
    return time.monotonic() - started


# the checks -----------------------------------------------------------------------------------


def reconcile(
    rows: dict[int, tuple[str, int | None]], messages: list[dict[str, Any]]
) -> dict[str, int]:
    """Compare the database's outcomes with what the simulator delivered, chat by chat.

    Returns the problems found, by kind (all zero when the ledger is sound): a chat that got
    more than one message, a message to a chat outside the audience, a `sent` row without its
    message (or with another message_id), a `skipped`/`error`/`pending` row whose chat got a
    message anyway. An `unknown` row may have got one message, or none.
    """
    per_chat: dict[int, list[int]] = defaultdict(list)
    for message in messages:
        per_chat[int(message["chat_id"])].append(int(message["message_id"]))
    problems: Counter[str] = Counter()
    for chat_id, ids in per_chat.items():
        if len(ids) > 1:
            problems["chat_got_twice"] += 1
        if chat_id not in rows:
            problems["outside_audience"] += 1
    for telegram_id, (status, message_id) in rows.items():
        got = per_chat.get(telegram_id, [])
        if status == "sent":
            if got != [message_id]:
                problems["sent_without_its_message"] += 1
        elif status != "unknown" and got:
            problems[f"{status}_but_delivered"] += 1
    return {
        kind: problems.get(kind, 0)
        for kind in (
            "chat_got_twice",
            "outside_audience",
            "sent_without_its_message",
            *(f"{s}_but_delivered" for s in ("skipped", "error", "pending", "sending")),
        )
    }


@dataclass(frozen=True)
class Window:
    """When one incarnation sent for one shot (first reservation to hand-back, end or death)."""

    slot: str
    pid: int
    start: float
    end: float


def log_time(line: dict[str, Any]) -> float:
    """The wall time (epoch seconds) of a JSON log line."""
    return datetime.fromisoformat(str(line["time"]).replace("Z", "+00:00")).timestamp()


def sending_windows(slots: list[Slot], shot_ids: set[int]) -> dict[int, list[Window]]:
    """shot id → the windows in which each incarnation could send for it, from the logs."""
    first: dict[tuple[str, int, int], float] = {}
    last: dict[tuple[str, int, int], float] = {}
    death: dict[tuple[str, int], float] = {}
    for slot in slots:
        for run in slot.runs:
            death[(slot.name, run.pid)] = run.ended if run.ended is not None else time.time()
        for run, line in slot.log_lines():
            shot_id = line.get("shot_id")
            if shot_id not in shot_ids:
                continue
            key = (slot.name, run.pid, int(shot_id))
            at = log_time(line)
            if line.get("msg") == "[SHOTS][WORKER] processing batch":
                first.setdefault(key, at)
            if line.get("msg", "").startswith("[SHOTS][WORKER] job "):
                last[key] = at
    windows: dict[int, list[Window]] = defaultdict(list)
    for key, start in first.items():
        name, pid, shot_id = key
        end = last.get(key, death[(name, pid)])
        windows[shot_id].append(Window(name, pid, start, end))
    for shot_windows in windows.values():
        shot_windows.sort(key=lambda w: w.start)
    return windows


def overlaps(windows: list[Window]) -> int:
    """How many times a window starts before the previous owner's ended."""
    return sum(1 for before, after in itertools.pairwise(windows) if after.start < before.end)


def outside_windows(windows: list[Window], times: list[float], slack_s: float = 0.25) -> int:
    """Deliveries that happened when no incarnation owned the shot (`slack_s` of latency)."""
    count = 0
    for at in times:
        if not any(w.start - slack_s <= at <= w.end + slack_s for w in windows):
            count += 1
    return count


def log_count(slots: list[Slot], message: str) -> int:
    """How many log lines of every incarnation carry `message`."""
    return sum(1 for slot in slots for _, line in slot.log_lines() if line.get("msg") == message)


def pick_kill_delay(rng: random.Random, low_s: float, high_s: float) -> float:
    """The wait before the next kill: uniform in [low_s, high_s]."""
    return rng.uniform(low_s, high_s)


# the crash run --------------------------------------------------------------------------------


@dataclass
class ChaosPlan:
    """What a crash run does: how many processes, bots, recipients, kills, at which rates."""

    backend: str  # "postgresql": `workers` × `disparo worker`; "sqlite": one `disparo serve`
    workers: int = 3
    bots: int = 4
    recipients: int = 1000  # per bot
    rate_per_s: int = 25
    paid_broadcast: bool = False
    sim_per_second: int | None = None  # raise the simulator's per-bot limit (None: 30/s)
    latency_ms: float = 40.0
    kills: int = 10
    kill_every_s: tuple[float, float] = (0.5, 2.0)
    lease_s: float = 5.0
    max_bots: int = 2  # per worker process on PostgreSQL (the one SQLite process takes all)
    seed: int = 1
    finish_timeout_s: float = 120.0


@dataclass
class Kill:
    """One kill -9: when, whom, and the deliveries it left `sending` per shot it held."""

    at: float
    slot: str
    pid: int
    stranded: dict[int, int]


async def run_chaos(plan: ChaosPlan, db_url: URL, log_dir: Path) -> dict[str, Any]:
    """Run the plan against fresh processes; the figures (every process stopped at the end)."""
    rng = random.Random(plan.seed)
    db = Database(db_url, pool_size=3)
    sim = Simulator(log_dir, latency_ms=plan.latency_ms)
    slots: list[Slot] = []
    kills: list[Kill] = []
    try:
        seeded = await seed(
            db,
            bot_count=plan.bots,
            recipients=plan.recipients,
            rate_per_s=plan.rate_per_s,
            paid_broadcast=plan.paid_broadcast,
        )
        if plan.sim_per_second is not None:
            for shot in seeded:
                limits = {"per_second": plan.sim_per_second, "paid_per_second": plan.sim_per_second}
                sim.post(f"bots/{shot.token}/limits", limits)
        # One `disparo serve` on SQLite carries every bot; workers on PostgreSQL share them.
        max_bots = plan.max_bots if plan.backend == "postgresql" else max(plan.max_bots, plan.bots)
        env = engine_env(db_url, sim.base, lease_s=plan.lease_s, max_bots=max_bots)
        if plan.backend == "sqlite":
            argv = ["serve", "--port", str(free_port())]
            slots.append(Slot("serve", argv, env, log_dir))
        else:
            slots.extend(Slot(f"worker{n}", ["worker"], env, log_dir) for n in range(plan.workers))
        started = time.monotonic()
        for slot in slots:
            slot.start()
        shot_ids = [shot.shot_id for shot in seeded]

        async def sending() -> bool:
            check_alive(slots)
            return any(int(bot.get("delivered", 0)) > 0 for bot in sim.stats().values())

        # The kills start once the shots are being sent (not while the processes boot).
        await wait_until(sending, timeout_s=30, what="the first delivery", every_s=0.05)
        while len(kills) < plan.kills:
            await asyncio.sleep(pick_kill_delay(rng, *plan.kill_every_s))
            check_alive(slots)
            victim = rng.choice(slots)
            run = victim.kill()
            kills.append(Kill(run.ended or time.time(), victim.name, run.pid, {}))
            kills[-1].stranded.update(await stranded_by(db, run.pid))
            victim.start()
        kill_phase_s = time.monotonic() - started

        async def finished() -> bool:
            check_alive(slots)
            return await all_finished(db, shot_ids)

        await wait_until(
            finished,
            timeout_s=plan.finish_timeout_s,
            what="every shot finished",
            every_s=0.25,
        )
        duration_s = time.monotonic() - started
        for slot in slots:
            slot.stop()
        return await _chaos_figures(
            plan, db, sim, slots, seeded, kills, duration_s=duration_s, kill_phase_s=kill_phase_s
        )
    finally:
        for slot in slots:
            slot.stop()
        sim.stop()
        await db.dispose()


async def _chaos_figures(
    plan: ChaosPlan,
    db: Database,
    sim: Simulator,
    slots: list[Slot],
    seeded: list[BotShot],
    kills: list[Kill],
    *,
    duration_s: float,
    kill_phase_s: float,
) -> dict[str, Any]:
    stats = sim.stats()
    shots = await shot_rows(db)
    counts = await delivery_counts(db)
    windows = sending_windows(slots, {shot.shot_id for shot in seeded})
    outcomes: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    per_shot = []
    duplicates = http_429 = overlapping = outside = 0
    faults_seen: Counter[str] = Counter()
    for shot in seeded:
        bot = stats.get(shot.token.partition(":")[0], {})
        faults_seen.update({kind: int(bot.get(kind, 0)) for kind in ("5xx", "dropped", "slow")})
        messages = sim.messages(shot.token)
        problems.update(reconcile(await ledger(db, shot.shot_id), messages))
        duplicates += int(bot.get("duplicates", {}).get("count", 0))
        http_429 += int(bot.get("429", 0))
        overlapping += overlaps(windows[shot.shot_id])
        outside += outside_windows(windows[shot.shot_id], [m["time"] for m in messages])
        outcomes.update(counts[shot.shot_id])
        row = shots[shot.shot_id]
        per_shot.append(
            {
                "shot_id": shot.shot_id,
                "status": row["status"],
                "attempt_count": row["attempt_count"],
                "owners": len(windows[shot.shot_id]),
                "outcomes": dict(counts[shot.shot_id]),
                "delivered": int(bot.get("delivered", 0)),
                "messages_per_chat_max": int(bot.get("messages_per_chat_max", 0)),
            }
        )
    stranded = [n for kill in kills for n in kill.stranded.values()]
    unknown_reasons = await _unknown_reasons(db)
    return {
        "backend": plan.backend,
        "processes": len(slots),
        "bots": plan.bots,
        "recipients": plan.bots * plan.recipients,
        "rate_per_s": plan.rate_per_s,
        "paid_broadcast": plan.paid_broadcast,
        "simulator_per_second": plan.sim_per_second or 30,
        "lease_s": plan.lease_s,
        "kills": len(kills),
        "kills_holding_a_lease": sum(1 for kill in kills if kill.stranded),
        "duplicates": duplicates,
        "ledger_problems": dict(problems),
        "unknown": outcomes.get("unknown", 0),
        "unknown_by_reason": unknown_reasons,
        "unknown_by_error": await _unknown_errors_all(db, [shot.shot_id for shot in seeded]),
        "stranded_by_kills": sum(stranded),
        "stranded_per_kill_and_shot_max": max(stranded, default=0),
        "outcomes": dict(outcomes),
        "shots": [row["status"] for row in per_shot],
        "per_shot": per_shot,
        "http_429": http_429,
        "simulator_faults": dict(faults_seen),  # none injected: anything here is interference
        "overlapping_owners": overlapping,
        "deliveries_outside_owner_windows": outside,
        "kill_phase_s": round(kill_phase_s, 1),
        "duration_s": round(duration_s, 1),
    }


async def _unknown_reasons(db: Database) -> dict[str, int]:
    query = (
        select(shots_sent.c.reason, func.count())
        .where(shots_sent.c.status == "unknown")
        .group_by(shots_sent.c.reason)
    )
    async with db.read() as conn:
        return {str(reason): int(n) for reason, n in await conn.execute(query)}


# the Telegram faults run ----------------------------------------------------------------------


@dataclass
class FaultPlan:
    """A shot per bot through a faulty Telegram: 5xx, dropped connections, answers slower than
    the client's timeout, and a 429 storm on the first bot once a quarter of it went."""

    backend: str
    bots: int = 2
    recipients: int = 1000
    rate_per_s: int = 100
    paid_broadcast: bool = True
    latency_ms: float = 20.0
    error_5xx: float = 0.05
    drop: float = 0.02
    slow: float = 0.01
    slow_s: float = 2.0
    telegram_timeout_s: float = 1.0
    storm_s: float = 3.0
    lease_s: float = 30.0
    finish_timeout_s: float = 120.0


@dataclass(frozen=True)
class Pause:
    """One pause of a bot: the 429 that started it, and the refusals of requests already in
    flight then (they were sent before the first refusal came back)."""

    at: float
    retry_after_s: float
    stragglers: int


def pauses_from_logs(lines: list[dict[str, Any]], shot_id: int) -> list[Pause]:
    """The bot's pauses, from the worker's `rate limited; bot paused` lines (one per 429)."""
    refusals = sorted(
        (log_time(line), float(line["retry_after_s"]))
        for line in lines
        if line.get("msg") == "[SHOTS][WORKER] rate limited; bot paused"
        and line.get("shot_id") == shot_id
    )
    pauses: list[Pause] = []
    end = 0.0
    for at, retry_after_s in refusals:
        if pauses and at < end:
            last = pauses[-1]
            pauses[-1] = Pause(last.at, last.retry_after_s, last.stragglers + 1)
            continue
        pauses.append(Pause(at, retry_after_s, 0))
        end = at + retry_after_s
    return pauses


async def run_faults(plan: FaultPlan, db_url: URL, log_dir: Path) -> dict[str, Any]:
    """Run the plan with one `disparo worker`; the figures (every process stopped at the end)."""
    db = Database(db_url, pool_size=3)
    sim = Simulator(log_dir, latency_ms=plan.latency_ms, slow_s=plan.slow_s)
    slot: Slot | None = None
    faults = {
        "error_5xx": plan.error_5xx,
        "drop": plan.drop,
        "slow": plan.slow,
        "slow_s": plan.slow_s,
    }
    try:
        seeded = await seed(
            db,
            bot_count=plan.bots,
            recipients=plan.recipients,
            rate_per_s=plan.rate_per_s,
            paid_broadcast=plan.paid_broadcast,
            first_bot_id=6_200_000_001,
        )
        sim.post("faults", faults)
        env = engine_env(
            db_url, sim.base, lease_s=plan.lease_s, telegram_timeout_s=plan.telegram_timeout_s
        )
        slot = Slot("worker", ["worker"], env, log_dir)
        started = time.monotonic()
        slot.start()
        stormy = seeded[0]

        async def a_quarter_went() -> bool:
            check_alive([slot])
            bot = sim.stats().get(stormy.token.partition(":")[0], {})
            return int(bot.get("delivered", 0)) >= plan.recipients // 4

        await wait_until(a_quarter_went, timeout_s=60, what="a quarter of the first shot")
        storm = {"bot": stormy.token, "seconds": plan.storm_s}
        sim.post("faults", {**faults, "retry_after_storm": storm})

        async def refused() -> bool:
            check_alive([slot])
            return bool(pauses_from_logs([line for _, line in slot.log_lines()], stormy.shot_id))

        await wait_until(refused, timeout_s=30, what="the first 429")
        # The storm outlasts the retry_after it announced first, by half: the probe sent when
        # the first pause ends is refused too, and opens a second, shorter pause.
        (first,) = pauses_from_logs([line for _, line in slot.log_lines()], stormy.shot_id)
        extended = {"bot": stormy.token, "seconds": first.at + 1.5 * plan.storm_s - time.time()}
        sim.post("faults", {**faults, "retry_after_storm": extended})

        async def finished() -> bool:
            check_alive([slot])
            return await all_finished(db, [shot.shot_id for shot in seeded])

        await wait_until(finished, timeout_s=plan.finish_timeout_s, what="every shot finished")
        duration_s = time.monotonic() - started
        slot.stop()
        lines = [line for _, line in slot.log_lines()]
        stats = sim.stats()
        counts = await delivery_counts(db)
        shots = await shot_rows(db)
        per_shot = []
        for shot in seeded:
            bot = stats[shot.token.partition(":")[0]]
            pauses = pauses_from_logs(lines, shot.shot_id)
            per_shot.append(
                {
                    "shot_id": shot.shot_id,
                    "status": shots[shot.shot_id]["status"],
                    "outcomes": dict(counts[shot.shot_id]),
                    "unknown_by_error": await _unknown_errors(db, shot.shot_id),
                    "ledger_problems": reconcile(
                        await ledger(db, shot.shot_id), sim.messages(shot.token)
                    ),
                    "requests": bot["requests"],
                    "delivered": bot["delivered"],
                    "5xx": bot["5xx"],
                    "dropped": bot["dropped"],
                    "slow": bot["slow"],
                    "429": bot["429"],
                    "duplicates": bot["duplicates"]["count"],
                    "messages_per_chat_max": bot["messages_per_chat_max"],
                    "rate_limited_log_lines": sum(p.stragglers + 1 for p in pauses),
                    "pauses": len(pauses),
                    "pause_retry_after_s": [p.retry_after_s for p in pauses],
                    "refusals_per_pause": [p.stragglers + 1 for p in pauses],
                }
            )
        return {
            "backend": plan.backend,
            "bots": plan.bots,
            "recipients": plan.bots * plan.recipients,
            "faults": faults | {"telegram_timeout_s": plan.telegram_timeout_s},
            "storm_s": plan.storm_s,
            "per_shot": per_shot,
            "duration_s": round(duration_s, 1),
        }
    finally:
        if slot is not None:
            slot.stop()
        sim.stop()
        await db.dispose()


async def _unknown_errors(db: Database, shot_id: int) -> dict[str, int]:
    """Unknown deliveries by why: `timeout` (no answer in time), `dropped` (the connection
    closed without an answer), or the error itself."""
    query = select(shots_sent.c.error).where(
        shots_sent.c.shot_id == shot_id, shots_sent.c.status == "unknown"
    )
    kinds: Counter[str] = Counter()
    async with db.read() as conn:
        for (error,) in await conn.execute(query):
            text = str(error)
            if "before the timeout" in text:
                kinds["timeout"] += 1
            elif "closed the connection" in text or "connection failed" in text:
                kinds["dropped"] += 1
            else:
                kinds[text] += 1
    return dict(kinds)


async def _unknown_errors_all(db: Database, shot_ids: list[int]) -> dict[str, int]:
    """Unknown deliveries of every shot by why (`worker_lost` for what a kill left reserved)."""
    total: Counter[str] = Counter()
    for shot_id in shot_ids:
        total.update(await _unknown_errors(db, shot_id))
    return dict(total)
