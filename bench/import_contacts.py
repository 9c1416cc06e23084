"""Bulk contact import through the HTTP API: N contacts in one request, on SQLite or PostgreSQL.

Migrates a fresh database, registers a bot directly in it (no Telegram needed), starts the
server as a subprocess (`disparo serve`: the API and an idle worker in one process, or the API
alone with `--server api`) with a probe task on its event loop, and POSTs N contacts to
/admin/api/bots/{slug}/contacts:import, as CSV and/or JSON lines, first into an empty table (all
inserts) and then again (all updates). For each run it reports the seconds and rows/s, the
CPU seconds the server process and (on PostgreSQL) the database's backends spent meanwhile
(steadier than the seconds on a machine shared with other work), the server's peak resident
memory during the run (VmHWM, reset before each run), the longest event-loop stall (how late
the probe's 10 ms sleeps woke up) and the slowest /healthz answer of a client polling every
50 ms meanwhile. With --with-shot the server's worker is sending a
shot (3,000 recipients at 30/s, to the simulator) through each import: the run also reports
how many messages left during the import and the longest pause between two of them. Prints the
machine, the parameters and one JSON object.

    .venv/bin/python bench/import_contacts.py [--contacts 100000] [--format csv,ndjson]
    .venv/bin/python bench/import_contacts.py --contacts 1800000 --shape slim --format csv
        # the 64 MiB case: 1.8M contacts of four columns, just under the 64 MiB body limit
    .venv/bin/python bench/import_contacts.py --contacts 1800000 --shape slim --format csv \
        --with-shot  # the same while a shot is being sent
    .venv/bin/python bench/import_contacts.py --shape tagged [--tags-mode replace]
        # every column plus two tags and two custom attributes per contact

BENCH_GC_LOG=<file> has the server append each garbage collection above 5 ms to that file
(its generation, seconds and thread): a full collection holds the interpreter lock, and so
the event loop, for as long as it walks the heap.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from disparo.db.bots import insert_bot
from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.db.tables import shots_queue, shots_sent
from throughput import Databases, free_port, machine, seed, sim_get, start_simulator

TOKEN = "424242:" + "B" * 35
SLUG = "bench"
TARGET_ROWS_PER_S = 10_000  # the goal: 100,000 contacts in under 10 s
MAX_BODY_BYTES = 64 * 1024 * 1024  # the import routes' limit
PROBE_S = 0.010  # the loop probe sleeps this long, again and again
PROBE_RECORD_S = 0.002  # lateness worth a line in the probe's file
HEALTH_EVERY_S = 0.05
SHOT_RECIPIENTS = 3000  # 100 s at 30/s: longer than any import here
SHOT_LEAD_S = 5.0  # the shot is sending steadily before the import starts


def _contacts(count: int, fmt: str, generation: int, shape: str) -> bytes:
    """`count` contacts, names changed per `generation`; `full`: every column, `slim`: four,
    `tagged`: every column, two tags (one changing per generation) and two attributes."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        if shape == "slim":
            rows.append(
                {
                    "telegram_id": 10_000_000 + n,
                    "first_name": f"Nome{n}-{generation}",
                    "username": f"user{n}",
                    "language_code": "pt",
                }
            )
            continue
        when = (start + timedelta(seconds=n)).isoformat()
        rows.append(
            {
                "telegram_id": 10_000_000 + n,
                "first_name": f"Nome{n}-{generation}",
                "last_name": "Silva",
                "username": f"user{n}",
                "language_code": "pt-br",
                "chat_state": "blocked" if generation and n % 50 == 0 else "active",
                "started_at": when,
                "last_interaction_at": when,
            }
        )
        if shape == "tagged":
            rows[-1]["tags"] = ["lead", f"curso-{(n + generation) % 7}"]
            rows[-1]["attributes"] = {"plano": f"plano-{generation}", "pontos": n % 1000}
    if fmt == "ndjson":
        return "".join(json.dumps(row) + "\n" for row in rows).encode()
    if shape == "tagged":  # in CSV: tags separated by |, one attr.<key> column each
        for row in rows:
            row["tags"] = "|".join(row["tags"])
            row.update({f"attr.{k}": v for k, v in row.pop("attributes").items()})
    header = ",".join(rows[0])
    lines = [header] + [",".join(str(v) for v in row.values()) for row in rows]
    return ("\n".join(lines) + "\n").encode()


async def _register_bot(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as conn:
            await insert_bot(conn, TokenCipher(None), slug=SLUG, token=TOKEN, now=datetime.now(UTC))
    finally:
        await db.dispose()


async def _seed_shot_bots(url: str, count: int) -> list[str]:
    """`count` bots (bot00, bot01, ...) of SHOT_RECIPIENTS contacts at 30/s; their tokens."""
    db = Database(url)
    try:
        return await seed(db, count, SHOT_RECIPIENTS, 30)
    finally:
        await db.dispose()


async def _queue_shot(url: str, slug: str) -> None:
    db = Database(url)
    try:
        async with db.write() as conn:
            await conn.execute(
                insert(shots_queue).values(
                    bot_slug=slug,
                    target="started",
                    copy="<b>Oferta</b> relâmpago: só hoje!",
                    scheduled_at=datetime.now(UTC),
                )
            )
    finally:
        await db.dispose()


async def _unknown_deliveries(url: str) -> int:
    db = Database(url)
    try:
        async with db.read() as conn:
            query = select(func.count()).where(shots_sent.c.status == "unknown")
            return int(await conn.scalar(query) or 0)
    finally:
        await db.dispose()


def _shot_during(sim: str, token: str, since: float, until: float) -> dict[str, Any]:
    """Messages of the bot's shot the simulator received in [since, until] (epoch seconds),
    and the longest pause between two consecutive ones that overlaps that window."""
    times = sorted(m["time"] for m in sim_get(sim, f"bots/{token}/messages"))
    gaps = [b - a for a, b in itertools.pairwise(times) if a < until and b > since]
    return {
        "shot_sent_during_import": sum(1 for t in times if since <= t <= until),
        "shot_pause_max_s": round(max(gaps, default=0.0), 2),
    }


# --- inside the server process -------------------------------------------------------------


async def _probe(path: str) -> None:
    """Sleep PROBE_S again and again; write each wake-up later than PROBE_RECORD_S to `path`
    as "<monotonic time of the wake-up> <seconds late>"."""
    with open(path, "a", buffering=1) as out:  # noqa: ASYNC230 - a line now and then, on purpose
        while True:
            before = time.monotonic()
            await asyncio.sleep(PROBE_S)
            after = time.monotonic()
            late = after - before - PROBE_S
            if late > PROBE_RECORD_S:
                out.write(f"{after:.6f} {late:.6f}\n")


def _log_collections(path: str) -> None:
    """Append "<monotonic end> <generation> <seconds> <thread>" to `path` for each garbage
    collection above 5 ms (diagnosis of loop stalls: a collection holds the interpreter lock)."""
    out = open(path, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    started: list[float] = [0.0]

    def note(phase: str, info: dict[str, Any]) -> None:
        now = time.monotonic()
        if phase == "start":
            started[0] = now
        elif now - started[0] > 0.005:
            thread = threading.current_thread().name
            out.write(f"{now:.6f} {info['generation']} {now - started[0]:.6f} {thread}\n")

    gc.callbacks.append(note)


def serve_with_probe(port: int, probe_path: str, with_worker: bool) -> int:
    """`disparo serve` (or `disparo api`) as the CLI runs it, plus the loop probe."""
    from disparo.config import load_settings
    from disparo.services import build_api, engine_background, open_database, serve_http

    settings = load_settings(None)
    if gc_log := os.environ.get("BENCH_GC_LOG"):  # which collections took long, and where
        _log_collections(gc_log)

    async def run() -> None:
        db = open_database(settings)
        probe = asyncio.create_task(_probe(probe_path))
        try:
            background = [engine_background(settings, db)] if with_worker else []
            app = build_api(settings, db, background=background)
            await serve_http(app, "127.0.0.1", port)
        finally:
            probe.cancel()
            await db.dispose()

    asyncio.run(run())
    return 0


# --- in the benchmark process ---------------------------------------------------------------


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{base}/readyz", timeout=1) as answer,  # noqa: S310
        ):
            if answer.status == 200:
                return
        time.sleep(0.1)
    raise SystemExit("the server did not become ready within 30 s")


def _post(base: str, admin_token: str, body: bytes, fmt: str, tags_mode: str) -> dict[str, Any]:
    content_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
    request = urllib.request.Request(  # noqa: S310 - a local URL we built
        f"{base}/admin/api/bots/{SLUG}/contacts:import?tags_mode={tags_mode}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=900) as answer:  # noqa: S310
        result: dict[str, Any] = json.loads(answer.read())
    return result


def _memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of process `pid`, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used so far; 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _db_backends_cpu_s(url: str) -> dict[int, float]:
    """PostgreSQL: CPU seconds so far of each backend connected to the database of `url`."""
    if not url.startswith("postgresql"):
        return {}
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {pid: _cpu_s(pid) for (pid,) in rows}


def _db_cpu_spent_s(before: dict[int, float], after: dict[int, float]) -> float:
    """What the backends spent between two looks (one that connected meanwhile: all of it)."""
    return sum(spent - before.get(pid, 0.0) for pid, spent in after.items())


def _reset_peak_memory(pid: int) -> None:
    """Start VmHWM again from the current resident set (Linux: clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _worst_stall_s(probe_path: Path, since: float, until: float) -> float:
    """The latest the probe woke up in [since, until] (its own monotonic stamps)."""
    worst = 0.0
    for line in probe_path.read_text().splitlines():
        at, late = (float(v) for v in line.split())
        if since <= at <= until:
            worst = max(worst, late)
    return worst


@contextlib.contextmanager
def _health_poller(base: str) -> Iterator[list[float]]:
    """GET /healthz every HEALTH_EVERY_S in a thread; yields the list of answer times (s)."""
    times: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            started = time.monotonic()
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{base}/healthz", timeout=120),  # noqa: S310
            ):
                times.append(time.monotonic() - started)
            stop.wait(HEALTH_EVERY_S)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield times
    finally:
        stop.set()
        thread.join(timeout=130)


def _run_server(
    args: argparse.Namespace, admin_token: str, url: str, folder: str
) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    port = free_port()
    probe_path = Path(folder) / "loop-probe.txt"
    env = os.environ | {
        "DISPARO_DATABASE_URL": url,
        "DISPARO_ADMIN_TOKEN": admin_token,
        "DISPARO_TELEGRAM_API_URL": args.sim or "http://127.0.0.1:9",
        "DISPARO_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-port",
        str(port),
        "--probe-file",
        str(probe_path),
        "--server",
        args.server,
    ]
    tokens = asyncio.run(_seed_shot_bots(url, len(args.kinds))) if args.sim else []
    process = subprocess.Popen(command, env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        for fmt in args.formats:
            for generation, kind in enumerate(args.kinds):
                body = _contacts(args.contacts, fmt, generation, args.shape)
                if len(body) > MAX_BODY_BYTES:
                    raise SystemExit(
                        f"the {fmt} body is {len(body) / 2**20:.1f} MiB, above the 64 MiB limit: "
                        "send fewer contacts or --shape slim"
                    )
                if args.sim:
                    asyncio.run(_queue_shot(url, f"bot{generation:02d}"))
                    time.sleep(SHOT_LEAD_S)
                time.sleep(1.0)  # let the server settle before the memory baseline
                _reset_peak_memory(process.pid)
                before = _memory_kib(process.pid)["VmRSS"]
                cpu_before, db_before = _cpu_s(process.pid), _db_backends_cpu_s(url)
                with _health_poller(base) as health:
                    started, started_epoch = time.monotonic(), time.time()
                    result = _post(base, admin_token, body, fmt, args.tags_mode)
                    seconds = time.monotonic() - started
                server_cpu = _cpu_s(process.pid) - cpu_before
                db_cpu = _db_cpu_spent_s(db_before, _db_backends_cpu_s(url))
                time.sleep(PROBE_S * 5)  # the probe's last line lands
                peak = _memory_kib(process.pid)["VmHWM"]
                stall = _worst_stall_s(probe_path, started, started + seconds + 0.5)
                runs.append(
                    {
                        "format": fmt,
                        "kind": kind,
                        "contacts": args.contacts,
                        "body_mib": round(len(body) / 2**20, 1),
                        "seconds": round(seconds, 2),
                        "rows_per_s": round(args.contacts / seconds),
                        "server_cpu_s": round(server_cpu, 2),
                        "db_cpu_s": round(db_cpu, 2),
                        "rss_before_mb": round(before / 1024),
                        "peak_rss_mb": round(peak / 1024),
                        "loop_stall_max_ms": round(stall * 1000, 1),
                        "healthz_max_ms": round(max(health, default=0.0) * 1000, 1),
                        "healthz_answers": len(health),
                        "inserted": result["inserted"],
                        "updated": result["updated"],
                        "rejected": result["rejected"],
                        "under_target": args.contacts / seconds >= TARGET_ROWS_PER_S,
                    }
                )
                if args.sim:
                    time.sleep(2.0)  # the sends around the import's end reach the simulator
                    window = (started_epoch, started_epoch + seconds)
                    runs[-1] |= _shot_during(args.sim, tokens[generation], *window)
                    runs[-1]["unknown_deliveries"] = asyncio.run(_unknown_deliveries(url))
                print(f"{fmt} {kind}: {json.dumps(runs[-1])}", file=sys.stderr, flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return runs


def main() -> int:
    """Run the benchmark and print its figures (or, with --serve-port, be its server)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--format", default="csv,ndjson", help="csv, ndjson or both")
    parser.add_argument("--shape", choices=("full", "slim", "tagged"), default="full")
    parser.add_argument("--tags-mode", choices=("add", "replace"), default="add")
    parser.add_argument("--kinds", default="insert,update", help="insert, update or both")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--server", choices=("serve", "api"), default="serve")
    parser.add_argument(
        "--with-shot", action="store_true", help="the worker sends a shot through each import"
    )
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--probe-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_port:
        return serve_with_probe(args.serve_port, args.probe_file, args.server == "serve")
    args.formats = [f.strip() for f in args.format.split(",") if f.strip()]
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if args.kinds not in (["insert"], ["insert", "update"]):
        raise SystemExit("--kinds is insert or insert,update (an update needs the inserts first)")
    admin_token = secrets.token_urlsafe(24)
    print("machine:", json.dumps({**machine(), "sqlite": sqlite3.sqlite_version}))
    parameters = {
        "contacts": args.contacts,
        "formats": args.formats,
        "shape": args.shape,
        "tags_mode": args.tags_mode,
        "kinds": args.kinds,
        "backend": args.backend,
        "server": args.server,
        "with_shot": args.with_shot,
    }
    print("parameters:", json.dumps(parameters), flush=True)
    runs: list[dict[str, Any]] = []
    if args.with_shot and args.server != "serve":
        raise SystemExit("--with-shot needs --server serve (the worker sends the shot)")
    sim_port = free_port()
    simulator = start_simulator(sim_port) if args.with_shot else None
    args.sim = f"http://127.0.0.1:{sim_port}" if simulator else None
    for fmt in args.formats:
        databases = Databases()
        try:
            url = databases.fresh(args.backend, f"import_{fmt}")
            url_text = url.render_as_string(hide_password=False)
            asyncio.run(_register_bot(url_text))
            one = argparse.Namespace(**{**vars(args), "formats": [fmt]})
            runs += _run_server(one, admin_token, url_text, str(databases.tmp))
        finally:
            databases.close()
            shutil.rmtree(databases.tmp, ignore_errors=True)
    if simulator is not None:
        simulator.terminate()
        simulator.wait(timeout=10)
    print(json.dumps({"target_rows_per_s": TARGET_ROWS_PER_S, "runs": runs}, indent=2))
    return 0 if all(run["under_target"] for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
