"""The one place where Disparo's parts are built from the settings and wired together."""

from __future__ import annotations

import signal
from typing import Any

import uvicorn
from fastapi import FastAPI

from disparo.api.app import create_app
from disparo.config import Settings
from disparo.db import migrate
from disparo.db.engine import Database
from disparo.db.urls import parse_database_url


def open_database(settings: Settings) -> Database:
    """The database named by DISPARO_DATABASE_URL (not yet connected: engines are lazy)."""
    return Database(parse_database_url(settings.database_url))


def migrate_database(settings: Settings) -> None:
    """Apply every pending migration."""
    migrate.upgrade(parse_database_url(settings.database_url))


def build_api(settings: Settings, db: Database) -> FastAPI:
    """The HTTP application; refuses to build without a sound admin token."""
    settings.require_admin_token()
    return create_app(db)


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
