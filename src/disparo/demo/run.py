"""`disparo demo`: the whole product on one machine, on SQLite and the Telegram simulator.

Thin on purpose: a fresh database, the simulator in its own process, `disparo serve` (API and
worker) in this one, then `demo_seed` feeds the bots through the real ingestion paths, an A/B
shot goes out and simulated buyers (buyers.py) pay for it in the background, while simulated
readers (clickers.py) click the tracked buttons of every shot and reply to some.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from disparo.config import Settings, load_settings
from disparo.demo.buyers import run_buyers, start_ab_test
from disparo.demo.clickers import run_clickers
from disparo.demo.seed import DEMO_BOTS, SeedError, SeedReport, seed_demo
from disparo.logs import configure_logging


def _fresh_database(path: Path) -> None:
    """The simulator forgets its users on exit, so each demo starts from an empty file."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def local_url(host: str, port: int) -> str:
    """This machine's address of a server listening on `host`: DISPARO_PUBLIC_URL of the demo,
    where the simulator posts webhooks and buttons' tracked links point."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - every interface: loopback is one of them
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _require_free(host: str, port: int, option: str) -> None:
    """Stop before starting anything when a port is taken, saying which option moves it."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError:
            raise SystemExit(
                f"disparo demo: {host}:{port} is already in use (another demo still running?); "
                f"stop it or pick another port with {option}"
            ) from None


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
            with urllib.request.urlopen(f"http://{host}:{port}/sim/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"disparo demo: the simulator did not answer on {host}:{port} within 15 s")


async def _wait_ready(url: str, server: asyncio.Task[None]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if server.done():
                raise SeedError(f"the server stopped before it was ready on {url}")
            try:
                async with session.get(f"{url}/readyz") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SeedError(f"the server did not become ready on {url} within 30 s")


def _banner(
    args: argparse.Namespace, settings: Settings, database: Path, report: SeedReport, ab_shot: int
) -> str:
    token = settings.require_admin_token().get_secret_value()
    ab_bot = DEMO_BOTS[0].slug
    shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104 - a display name
    base = f"http://{shown}:{args.port}"
    bots = "\n".join(
        f"    {bot.slug:<12} {bot.name}: {report.users.get(bot.slug, 0):,} simulated users, "
        f"{report.started.get(bot.slug, 0):,} pressed /start just now, "
        f"{report.pix.get(bot.slug, 0):,} generated a PIX"
        for bot in DEMO_BOTS
    )
    return (
        "\nDisparo demo is running\n\n"
        f"  admin page  {base}/admin/#token={token}\n"
        f"              (signs you in; or open {base}/admin and paste the token)\n"
        f"  token       {token}\n"
        f"  API docs    {base}/docs\n"
        f"  simulator   {settings.telegram_api_url}  (a Telegram Bot API look-alike)\n"
        f"  database    {database}\n\n"
        f"  bots\n{bots}\n\n"
        f"  A/B test    shot {ab_shot} of {ab_bot}, sent now: variant A (a discount) against B\n"
        "              (a deadline), 50/50, and a 20% holdout sent nothing. On its statistics\n"
        f"              screen, {base}/admin/#/shots/{ab_shot}, the “Conversões” panel\n"
        "              fills in over the next minutes as simulated buyers create PIX and pay\n"
        "              (B sells most; the holdout buys at a baseline rate). The demo compresses\n"
        "              the hours after a message into seconds to a couple of minutes.\n\n"
        f"  Reports     {base}/admin/#/reports: simulated readers click the buttons of\n"
        "              every shot (tracked through /r/…) and some reply in the chat; B is\n"
        "              clicked more than A, and the report's clicks and replies fill in.\n\n"
        "  Try it: open the admin page, click “Novo disparo”, keep Público /start and “Agora”,\n"
        "  write a message (add a button with a link: the readers click it too) and create\n"
        "  it. It is delivered at Telegram's pace (25 messages/s); watch the progress bar,\n"
        "  then the Bloqueados/Desativados counts of the bot go up as the shot meets users\n"
        "  who blocked the bot or deleted their account. A bot sends one shot at a time: on\n"
        f"  {ab_bot} yours starts once the A/B shot is done (about two minutes); on the\n"
        "  other bot at once.\n\n"
        "Press Ctrl-C to stop.\n"
    )


async def _serve_and_seed(args: argparse.Namespace, settings: Settings, database: Path) -> int:
    from disparo.services import build_api, engine_background, open_database, serve_http

    db = open_database(settings)
    local = local_url(args.host, args.port)
    try:
        # The `disparo serve` wiring: the API with the worker in its lifespan.
        app = build_api(settings, db, background=[engine_background(settings, db)])
        server = asyncio.create_task(serve_http(app, args.host, args.port))
        try:
            await _wait_ready(local, server)
            print("Seeding the demo bots…", flush=True)
            token = settings.require_admin_token().get_secret_value()
            report = await seed_demo(
                local,
                settings.telegram_api_url,
                token,
                progress=lambda line: print(line, flush=True),
            )
            ab_bot = DEMO_BOTS[0].slug
            ab_shot = await start_ab_test(local, token, ab_bot)
        except (SeedError, aiohttp.ClientError) as exc:
            if server.done():  # Ctrl-C during the seeding: not an error
                return 130
            print(f"disparo demo: seeding failed: {exc}", file=sys.stderr, flush=True)
            signal.raise_signal(signal.SIGTERM)  # uvicorn stops on it, cleanly
            await server
            return 1
        # Buyers pay for the A/B shot and readers click and reply to every shot, in the
        # background; the banner does not wait for them.
        crowd = [asyncio.create_task(run_buyers(local, token, ab_bot, ab_shot))]
        crowd += [
            asyncio.create_task(
                run_clickers(
                    local,
                    settings.telegram_api_url,
                    token,
                    bot.slug,
                    bot.token,
                    buyers_shot=ab_shot if bot.slug == ab_bot else None,
                )
            )
            for bot in DEMO_BOTS
        ]
        print(_banner(args, settings, database, report, ab_shot), flush=True)
        try:
            await server
        finally:
            for task in crowd:
                task.cancel()
            for task in crowd:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return 0
    finally:
        await db.dispose()


def run_demo(args: argparse.Namespace) -> int:
    """Fresh SQLite file, simulator, API + worker, seeded bots; prints the admin URL and token."""
    database = Path(args.database).resolve()
    simulator_url = f"http://127.0.0.1:{args.simulator_port}"
    os.environ["DISPARO_DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DISPARO_TELEGRAM_API_URL"] = simulator_url
    os.environ["DISPARO_PUBLIC_URL"] = local_url(args.host, args.port)
    settings = load_settings()
    admin_token = settings.admin_token or SecretStr(secrets.token_urlsafe(24))
    settings = settings.model_copy(update={"admin_token": admin_token, "api_docs": True})
    if "DISPARO_LOG_LEVEL" not in os.environ:  # keep the terminal for the banner
        configure_logging(settings.log_format, "WARNING")
    # Imported only now: the database and HTTP libraries log as they load.
    from disparo.services import migrate_database

    _require_free(args.host, args.port, "--port")
    _require_free("127.0.0.1", args.simulator_port, "--simulator-port")
    _fresh_database(database)
    migrate_database(settings)
    simulator = _start_simulator("127.0.0.1", args.simulator_port)
    try:
        code = asyncio.run(_serve_and_seed(args, settings, database))
    finally:
        simulator.terminate()
        try:
            simulator.wait(timeout=5)
        except subprocess.TimeoutExpired:
            simulator.kill()
    print("Disparo demo stopped.")
    return code
