"""`disparo demo`: the whole product on one machine, on SQLite and the Telegram simulator."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pydantic import SecretStr

from disparo.config import load_settings
from disparo.services import build_api, migrate_database, open_database, serve_http


def _start_simulator(host: str, port: int) -> subprocess.Popen[bytes]:
    """The simulator in its own process (its own core), ready when this returns."""
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "disparo", "simulator", "--host", host, "--port", str(port)]
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"disparo demo: the simulator exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/sim/stats", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"disparo demo: the simulator did not answer on {host}:{port} within 15 s")


def run_demo(args: argparse.Namespace) -> int:
    """Migrate a SQLite file, start the simulator and the API, and print where they listen."""
    database = Path(args.database).resolve()
    simulator_url = f"http://127.0.0.1:{args.simulator_port}"
    os.environ["DISPARO_DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DISPARO_TELEGRAM_API_URL"] = simulator_url
    settings = load_settings()
    admin_token = settings.admin_token or SecretStr(secrets.token_urlsafe(24))
    settings = settings.model_copy(update={"admin_token": admin_token})

    migrate_database(settings)
    simulator = _start_simulator("127.0.0.1", args.simulator_port)
    try:
        base = f"http://{args.host}:{args.port}"
        print(
            "\nDisparo demo\n"
            f"  database   {database}\n"
            f"  simulator  {simulator_url}  (Telegram Bot API look-alike)\n"
            f"  API        {base}  (docs: {base}/docs)\n"
            f"  admin      {base}/admin\n"
            f"  token      {admin_token.get_secret_value()}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )

        async def serve() -> None:
            db = open_database(settings)
            try:
                await serve_http(build_api(settings, db), args.host, args.port)
            finally:
                await db.dispose()

        asyncio.run(serve())
    finally:
        simulator.terminate()
        try:
            simulator.wait(timeout=5)
        except subprocess.TimeoutExpired:
            simulator.kill()
    print("Disparo demo stopped.")
    return 0
