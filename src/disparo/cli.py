"""The `disparo` command: thin sub-commands that call into the rest of the package."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from disparo import __version__
from disparo.config import ConfigError, Settings, load_settings
from disparo.db.urls import DatabaseURLError, parse_database_url, redacted
from disparo.logs import configure_logging

Command = Callable[[argparse.Namespace, Settings], int]


def _add_listen(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument("--port", type=int, default=port, help="port to listen on (%(default)s)")


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the database migrations."""
    from disparo.services import migrate_database

    url = parse_database_url(settings.database_url)
    migrate_database(settings)
    print(f"database {redacted(url)} is at the newest schema")
    return 0


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the admin API and bot webhooks."""
    from disparo.services import (
        build_api,
        check_stored_tokens,
        freeze_startup_heap,
        open_database,
        serve_http,
        token_cipher,
    )

    async def run() -> None:
        db = open_database(settings)
        try:
            await check_stored_tokens(db, token_cipher(settings))
            app = build_api(settings, db, poll_every_bot=args.polling)
            # Full collections then skip the app's own objects (long imports churn the heap).
            freeze_startup_heap()
            await serve_http(app, args.host, args.port)
        finally:
            await db.dispose()

    asyncio.run(run())
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the broadcast worker until SIGTERM/SIGINT."""
    from disparo.services import run_on_fast_loop, run_worker

    metrics = (args.metrics_host, args.metrics_port) if args.metrics_port else None
    run_on_fast_loop(run_worker(settings, metrics_address=metrics))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the API and run the worker in the same process."""
    from disparo.services import (
        build_api,
        check_stored_tokens,
        engine_background,
        open_database,
        serve_http,
        token_cipher,
    )

    async def run() -> None:
        db = open_database(settings)
        try:
            await check_stored_tokens(db, token_cipher(settings))
            app = build_api(
                settings,
                db,
                background=[engine_background(settings, db)],
                poll_every_bot=args.polling,
            )
            await serve_http(app, args.host, args.port)
        finally:
            await db.dispose()

    asyncio.run(run())
    return 0


def cmd_keygen(args: argparse.Namespace, settings: Settings) -> int:
    """Print a new key for DISPARO_SECRET_KEY."""
    from disparo.db.secrets import generate_key

    print(generate_key())
    return 0


def cmd_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    """Seal every stored bot token and webhook secret with the first key of DISPARO_SECRET_KEY."""
    from disparo.services import rotate_secret_key

    done = rotate_secret_key(settings)
    plain = [
        f"{count} {what} stored in plain text until now"
        for count, what in (
            (done.plain_tokens, "token(s)"),
            (done.plain_webhook_secrets, "webhook secret(s)"),
        )
        if count
    ]
    print(
        f"sealed the token and webhook secret of {done.bots} bot(s) with the first key of "
        "DISPARO_SECRET_KEY" + (f" ({'; '.join(plain)})" if plain else "")
    )
    return 0


def cmd_simulator(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Telegram Bot API simulator."""
    from disparo.simulator.server import run_from_args

    return run_from_args(args)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo: SQLite, the simulator, the API; prints where they listen."""
    from disparo.demo.run import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one sub-command per purpose."""
    parser = argparse.ArgumentParser(
        prog="disparo",
        description="Mass broadcasts (shots) to the contacts of Telegram bots.",
    )
    parser.add_argument("--version", action="version", version=f"disparo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    add("migrate", cmd_migrate, "apply the database migrations (DISPARO_DATABASE_URL)")
    api = add("api", cmd_api, "serve the admin API, bot webhooks, health and metrics")
    serve = add("serve", cmd_serve, "serve the API and run the broadcast worker in one process")
    for command in (api, serve):
        _add_listen(command, 8080)
        command.add_argument(
            "--polling",
            action="store_true",
            help="fetch every bot's updates with getUpdates (no public URL needed); "
            "without it only bots set to polling are polled",
        )
    add("keygen", cmd_keygen, "print a new key for DISPARO_SECRET_KEY (encrypts bot tokens)")
    add(
        "rotate-key",
        cmd_rotate_key,
        "seal every stored bot token and webhook secret with DISPARO_SECRET_KEY, opening them "
        "with it or DISPARO_OLD_SECRET_KEY; one transaction, nothing changed on any error",
    )
    worker = add("worker", cmd_worker, "run the broadcast worker: claim due shots and send them")
    worker.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port"
    )
    worker.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of the metrics port (%(default)s)"
    )

    from disparo.simulator.server import add_arguments as add_simulator_arguments

    add_simulator_arguments(
        add("simulator", cmd_simulator, "run the Telegram Bot API simulator (tests, demo)")
    )
    demo = add("demo", cmd_demo, "run the demo on SQLite with the simulator and demo bots")
    _add_listen(demo, 8080)
    demo.add_argument("--simulator-port", type=int, default=8081, help="(%(default)s)")
    demo.add_argument(
        "--database", default="disparo-demo.sqlite3", help="SQLite file (%(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `disparo` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        parse_database_url(settings.database_url)
    except (ConfigError, DatabaseURLError) as exc:
        print(f"disparo: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    try:
        return int(args.func(args, settings))
    except ConfigError as exc:
        print(f"disparo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
