"""The one place where Disparo's parts are built from the settings and wired together."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI

from disparo.api.app import Background, create_app
from disparo.config import ConfigError, Settings
from disparo.db import migrate
from disparo.db.engine import Database
from disparo.db.secrets import SecretKeyError, TokenCipher
from disparo.db.urls import parse_database_url
from disparo.telegram import BotAPI


def open_database(settings: Settings) -> Database:
    """The database named by DISPARO_DATABASE_URL (not yet connected: engines are lazy)."""
    return Database(parse_database_url(settings.database_url))


def migrate_database(settings: Settings) -> None:
    """Apply every pending migration."""
    migrate.upgrade(parse_database_url(settings.database_url))


def token_cipher(settings: Settings) -> TokenCipher:
    """Seals bot tokens with DISPARO_SECRET_KEY when it is set (plain storage otherwise)."""
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    try:
        return TokenCipher(key)
    except SecretKeyError as exc:
        raise ConfigError(str(exc)) from None


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
    """Serve `app` until SIGINT/SIGTERM, then shut down gracefully (lifespan included)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, **config)
    )
    # uvicorn re-raises the signal it caught once it has stopped; let that be a no-op so the
    # caller finishes its own clean-up instead of dying mid-way.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    await server.serve()
