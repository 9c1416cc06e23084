"""Bulk contact import through the HTTP API on SQLite: N contacts in one request.

Migrates a fresh SQLite file, registers a bot directly in it (no Telegram needed), starts
`disparo api` as a subprocess, and POSTs N contacts to /admin/api/bots/{slug}/contacts:import,
as CSV and as JSON lines, first into an empty table (all inserts) and then again (all updates).
Prints the machine, the parameters and one JSON object with the seconds and rows/s of each run.

    .venv/bin/python bench/import_contacts.py [--contacts 100000] [--format csv,ndjson]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db import migrate
from disparo.db.bots import insert_bot
from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from throughput import free_port, machine

TOKEN = "424242:" + "B" * 35
SLUG = "bench"
TARGET_S = 10.0


def _contacts(count: int, fmt: str, generation: int) -> bytes:
    """`count` contacts with every column, names changed per `generation`."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(1, count + 1):
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
    if fmt == "ndjson":
        return "".join(json.dumps(row) + "\n" for row in rows).encode()
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


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"disparo api exited with code {process.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{base}/readyz", timeout=1) as answer,  # noqa: S310
        ):
            if answer.status == 200:
                return
        time.sleep(0.1)
    raise SystemExit("disparo api did not become ready within 30 s")


def _post(base: str, admin_token: str, body: bytes, fmt: str) -> tuple[float, dict[str, Any]]:
    content_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
    request = urllib.request.Request(  # noqa: S310 - a local URL we built
        f"{base}/admin/api/bots/{SLUG}/contacts:import",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": content_type},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as answer:  # noqa: S310
        result: dict[str, Any] = json.loads(answer.read())
    return time.perf_counter() - started, result


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--format", default="csv,ndjson", help="csv, ndjson or both")
    args = parser.parse_args()
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    admin_token = secrets.token_urlsafe(24)
    runs: list[dict[str, Any]] = []
    print("machine:", json.dumps({**machine(), "sqlite": sqlite3.sqlite_version}))
    print("parameters:", json.dumps({"contacts": args.contacts, "formats": formats}))
    for fmt in formats:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
            migrate.upgrade(make_url(url))
            asyncio.run(_register_bot(url))
            port = free_port()
            env = os.environ | {
                "DISPARO_DATABASE_URL": url,
                "DISPARO_ADMIN_TOKEN": admin_token,
                "DISPARO_TELEGRAM_API_URL": "http://127.0.0.1:9",
                "DISPARO_LOG_LEVEL": "WARNING",
            }
            command = [sys.executable, "-m", "disparo", "api", "--port", str(port)]
            process = subprocess.Popen(command, env=env, cwd=folder)
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_ready(base, process)
                for generation, kind in enumerate(("insert", "update")):
                    body = _contacts(args.contacts, fmt, generation)
                    seconds, result = _post(base, admin_token, body, fmt)
                    runs.append(
                        {
                            "format": fmt,
                            "kind": kind,
                            "contacts": args.contacts,
                            "body_mib": round(len(body) / 2**20, 1),
                            "seconds": round(seconds, 2),
                            "rows_per_s": round(args.contacts / seconds),
                            "inserted": result["inserted"],
                            "updated": result["updated"],
                            "rejected": result["rejected"],
                            "under_target": seconds < TARGET_S,
                        }
                    )
                    print(f"{fmt} {kind}: {seconds:.2f} s", file=sys.stderr)
            finally:
                process.terminate()
                process.wait(timeout=10)
    print(json.dumps({"target_s": TARGET_S, "runs": runs}, indent=2))
    return 0 if all(run["under_target"] for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
