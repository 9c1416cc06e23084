"""The one place where Disparo's parts are built from the settings and wired together."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from disparo.api.app import Background, create_app
from disparo.api.server import uvicorn_limits
from disparo.config import ConfigError, Settings
from disparo.db import migrate
from disparo.db.bots import Resealed, reseal_secrets, unopenable_secret_slugs
from disparo.db.engine import Database
from disparo.db.links import LinkSource
from disparo.db.schema_version import schema_is_current
from disparo.db.secrets import SecretKeyError, TokenCipher
from disparo.db.store import SqlShotStore
from disparo.db.urls import parse_database_url
from disparo.db.webhooks import reseal_endpoint_secrets
from disparo.engine.worker import Worker, WorkerSettings
from disparo.outbox.sender import SenderSettings, WebhookSender
from disparo.telegram import BotAPI

log = logging.getLogger("disparo")


def open_database(settings: Settings) -> Database:
    """The database named by DISPARO_DATABASE_URL (not yet connected: engines are lazy)."""
    return Database(parse_database_url(settings.database_url))


def migrate_database(settings: Settings) -> None:
    """Apply every pending migration."""
    migrate.upgrade(parse_database_url(settings.database_url))


def token_cipher(settings: Settings) -> TokenCipher:
    """Seals bot tokens with DISPARO_SECRET_KEY when it is set (plain storage otherwise) and
    opens them with it or DISPARO_OLD_SECRET_KEY."""
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    old = settings.old_secret_key.get_secret_value() if settings.old_secret_key else None
    try:
        return TokenCipher(key, old)
    except SecretKeyError as exc:
        raise ConfigError(str(exc)) from None


async def check_stored_tokens(db: Database, cipher: TokenCipher) -> None:
    """Refuse to start, naming DISPARO_SECRET_KEY, when the key cannot open a stored bot token
    or webhook secret.

    A database that cannot be read yet (down, not migrated) is not a key problem: /readyz
    reports it, and the check is skipped.
    """
    try:
        async with db.read() as conn:
            slugs = await unopenable_secret_slugs(conn, cipher)
    except Exception as exc:  # unreachable or not migrated: not ours to judge here
        log.warning(
            "could not check the stored bot tokens and webhook secrets at start: %s",
            type(exc).__name__,
        )
        return
    if not slugs:
        return
    which = f"bot(s) {', '.join(slugs)}"
    if not cipher.encrypts:
        raise ConfigError(
            f"the tokens or webhook secrets of {which} are stored encrypted but "
            "DISPARO_SECRET_KEY is not set; set it to the key they were sealed with"
        )
    raise ConfigError(
        f"the tokens or webhook secrets of {which} cannot be opened with DISPARO_SECRET_KEY (nor "
        "DISPARO_OLD_SECRET_KEY); set DISPARO_SECRET_KEY to the key they were sealed with "
        "(during a key rotation, the previous key goes in DISPARO_OLD_SECRET_KEY)"
    )


def rotate_secret_key(settings: Settings) -> Resealed:
    """`disparo rotate-key`: seal every stored bot token and webhook secret with the first key
    of DISPARO_SECRET_KEY, opening each with it or DISPARO_OLD_SECRET_KEY, in one transaction."""
    if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
        raise ConfigError(
            "DISPARO_SECRET_KEY is not set; set it to the new key (make one with `disparo "
            "keygen`) and DISPARO_OLD_SECRET_KEY to the key the tokens are sealed with now, "
            "if they are sealed"
        )
    cipher = token_cipher(settings)

    async def run() -> Resealed:
        db = open_database(settings)
        try:
            if not await schema_is_current(db):
                raise ConfigError("the database is not migrated; run `disparo migrate` first")
            async with db.write() as conn:
                resealed = await reseal_secrets(conn, cipher)
                await reseal_endpoint_secrets(conn, cipher)  # outgoing webhooks' signing keys
                return resealed
        except SecretKeyError as exc:
            raise ConfigError(str(exc)) from None
        finally:
            await db.dispose()

    return asyncio.run(run())


def bot_api(settings: Settings) -> BotAPI:
    """The pooled Bot API client (started by whoever runs it, e.g. the API's lifespan)."""
    return BotAPI(settings.telegram_api_url, timeout_s=settings.telegram_timeout_s)


def build_api(
    settings: Settings,
    db: Database,
    *,
    background: Sequence[Background] = (),
    poll_every_bot: bool = False,
) -> FastAPI:
    """The HTTP application; refuses to build without a sound admin token.

    `background` context managers (the engine, for `disparo serve`) run in its lifespan;
    `poll_every_bot` fetches every bot's updates with getUpdates (`--polling`).
    """
    settings.require_admin_token()
    return create_app(
        db,
        settings,
        telegram=bot_api(settings),
        cipher=token_cipher(settings),
        background=background,
        poll_every_bot=poll_every_bot,
    )


async def serve_http(app: FastAPI, host: str, port: int, **config: Any) -> None:
    """Serve `app` until SIGINT/SIGTERM, then shut down gracefully (lifespan included).

    Connections are bounded by the app's DISPARO_HTTP_* settings (`config` may override).
    """
    settings: Settings = app.state.settings
    options = uvicorn_limits(settings) | config
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, **options)
    )
    # uvicorn re-raises the signal it caught once it has stopped; let that be a no-op so the
    # caller finishes its own clean-up instead of dying mid-way.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    await server.serve()


def freeze_startup_heap() -> None:
    """Move the objects built at start-up out of the garbage collector's sight.

    A full collection otherwise walks every module, table and client object: ~100 ms pauses
    at broadcast rates, during which requests leave late and bunch up at Telegram. Objects
    created later are collected as usual.
    """
    gc.collect()
    gc.freeze()


def worker_settings(settings: Settings) -> WorkerSettings:
    """The engine's settings from DISPARO_WORKER_MAX_BOTS, DISPARO_LEASE_S, ..._POLL_INTERVAL_S
    and DISPARO_SNAPSHOT_FIRST / _CHUNK."""
    return WorkerSettings(
        max_bots=settings.worker_max_bots,
        lease_s=settings.lease_s,
        poll_interval_s=settings.poll_interval_s,
        snapshot_first=settings.snapshot_first,
        snapshot_chunk=settings.snapshot_chunk,
    )


def build_worker(settings: Settings, db: Database, api: BotAPI) -> Worker:
    """The broadcast engine of this process, on a database and a (started) Bot API client."""
    store = SqlShotStore(db, token_cipher(settings))
    links = LinkSource(db, settings.public_url)
    return Worker(store, api, settings=worker_settings(settings), links=links, db=db)


def webhook_sender(settings: Settings, db: Database) -> WebhookSender:
    """The delivery loop of outgoing webhooks, from DISPARO_WEBHOOK_* settings."""
    return WebhookSender(
        db,
        token_cipher(settings),
        SenderSettings(
            timeout_s=settings.webhook_timeout_s,
            concurrency=settings.webhook_concurrency,
            retry_base_s=settings.webhook_retry_base_s,
            retry_max_s=max(settings.webhook_retry_max_s, settings.webhook_retry_base_s),
        ),
    )


def engine_background(settings: Settings, db: Database) -> Background:
    """The engine as a background task of the API app's lifespan (`disparo serve`).

    It has its own Bot API connection pool; leaving the lifespan (SIGTERM) stops it cleanly:
    in-flight requests finish, outcomes are recorded, shots are handed back. Outgoing webhooks
    are delivered beside it by their own task and HTTP session, which it never waits for.
    """

    @asynccontextmanager
    async def run_engine() -> AsyncIterator[None]:
        async with bot_api(settings) as api, webhook_sender(settings, db).running():
            worker = build_worker(settings, db, api)
            freeze_startup_heap()
            async with worker.running():
                yield

    return run_engine


def run_on_fast_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on uvloop where it is installed (less loop lag, so requests leave on time),
    on asyncio's default loop otherwise; uvicorn makes the same choice for `disparo serve`."""
    try:
        import uvloop
    except ImportError:  # e.g. on Windows
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


async def run_worker(settings: Settings, *, metrics_address: tuple[str, int] | None = None) -> None:
    """`disparo worker`: send due shots until SIGTERM or SIGINT, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if metrics_address is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_address[1], addr=metrics_address[0])
    db = open_database(settings)
    try:
        await check_stored_tokens(db, token_cipher(settings))
        async with bot_api(settings) as api, webhook_sender(settings, db).running():
            worker = build_worker(settings, db, api)
            freeze_startup_heap()
            await worker.run(stop)
    finally:
        await db.dispose()
