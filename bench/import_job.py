"""An import job over HTTP: N contacts (1,000,000 by default, 58 MiB of CSV: seven columns) sent to
POST /admin/api/bots/{slug}/imports, then followed with GET .../imports/{id} until done, on
SQLite or PostgreSQL.

Migrates a fresh database, registers a bot directly in it, starts the API as a subprocess
(`disparo api`, with the loop probe of bench/import_contacts.py on its event loop) and reports:
the seconds until the 202 (the upload to disk), the seconds until the job is done, rows/s, the
server's peak resident memory during the run (VmHWM, reset before it), the longest event-loop
stall (how late the probe's 10 ms sleeps woke up), the slowest /healthz answer of a client
polling every 50 ms meanwhile, and how many distinct progress values the polls saw. Prints the
machine, the parameters and one JSON object.

    .venv/bin/python bench/import_job.py [--contacts 1000000] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_contacts import (
    PROBE_S,
    SLUG,
    _health_poller,
    _memory_kib,
    _register_bot,
    _reset_peak_memory,
    _wait_ready,
    _worst_stall_s,
)
from throughput import Databases, free_port, machine

POLL_S = 0.5
STALL_LISTED_S = 0.05


def _csv(count: int) -> bytes:
    lines = ["telegram_id,first_name,last_name,username,language_code,chat_state,started_at"]
    lines += [
        f"{10_000_000 + n},Nome{n},Silva,user{n},pt-br,active,{1_767_225_600 + n}"
        for n in range(1, count + 1)
    ]
    return ("\n".join(lines) + "\n").encode()


def _call(base: str, token: str, path: str, body: bytes | None = None) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - a local URL we built
        base + path,
        data=body,
        method="POST" if body is not None else "GET",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    with urllib.request.urlopen(request, timeout=900) as answer:  # noqa: S310
        result: dict[str, Any] = json.loads(answer.read())
    return result


def _run(args: argparse.Namespace, token: str, url: str, folder: str) -> dict[str, Any]:
    port = free_port()
    probe_path = Path(folder) / "loop-probe.txt"
    env = {
        **os.environ,
        "DISPARO_DATABASE_URL": url,
        "DISPARO_ADMIN_TOKEN": token,
        "DISPARO_TELEGRAM_API_URL": "http://127.0.0.1:9",
        "DISPARO_LOG_LEVEL": "WARNING",
    }
    script = Path(__file__).resolve().parent / "import_contacts.py"
    command = [sys.executable, str(script), "--serve-port", str(port), "--probe-file",
               str(probe_path), "--server", "api"]  # fmt: skip
    body = _csv(args.contacts)
    process = subprocess.Popen(command, env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        time.sleep(1.0)
        _reset_peak_memory(process.pid)
        before = _memory_kib(process.pid)["VmRSS"]
        seen: list[int] = []
        with _health_poller(base) as health:
            started = time.monotonic()
            job = _call(base, token, f"/admin/api/bots/{SLUG}/imports?kind=contacts", body)
            accepted_s = time.monotonic() - started
            while job["status"] not in ("done", "failed"):
                time.sleep(POLL_S)
                job = _call(base, token, f"/admin/api/bots/{SLUG}/imports/{job['id']}")
                seen.append(job["processed"])
            seconds = time.monotonic() - started
        time.sleep(PROBE_S * 5)
        peak = _memory_kib(process.pid)["VmHWM"]
        stall = _worst_stall_s(probe_path, started, started + seconds + 0.5)
        stalls = [
            (round(at - started, 2), round(late * 1000))
            for at, late in (
                map(float, line.split()) for line in probe_path.read_text().split("\n") if line
            )
            if started <= at <= started + seconds + 0.5 and late > STALL_LISTED_S
        ]
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {
        "backend": args.backend,
        "contacts": args.contacts,
        "body_mib": round(len(body) / 2**20, 1),
        "status": job["status"],
        "error": job["error"],
        "accepted_s": round(accepted_s, 2),
        "seconds": round(seconds, 2),
        "rows_per_s": round(args.contacts / seconds),
        "rss_before_mb": round(before / 1024),
        "peak_rss_mb": round(peak / 1024),
        "loop_stall_max_ms": round(stall * 1000, 1),
        "stalls_over_50ms": stalls,  # (seconds since the POST, ms late)
        "healthz_max_ms": round(max(health, default=0.0) * 1000, 1),
        "healthz_answers": len(health),
        "progress_values_seen": len(set(seen)),
        "inserted": job["inserted"],
        "rejected": job["rejected"],
    }


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    token = secrets.token_urlsafe(24)
    print("machine:", json.dumps({**machine(), "sqlite": sqlite3.sqlite_version}))
    print("parameters:", json.dumps(vars(args)), flush=True)
    databases = Databases()
    try:
        url = databases.fresh(args.backend, "import_job").render_as_string(hide_password=False)
        asyncio.run(_register_bot(url))
        result = _run(args, token, url, str(databases.tmp))
    finally:
        databases.close()
        shutil.rmtree(databases.tmp, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0 if result["status"] == "done" else 1


if __name__ == "__main__":
    raise SystemExit(main())
