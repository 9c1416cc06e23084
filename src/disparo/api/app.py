"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from disparo import __version__
from disparo.api import health
from disparo.db.engine import Database


def create_app(db: Database) -> FastAPI:
    """Build the HTTP application on an already opened database."""
    app = FastAPI(
        title="Disparo",
        version=__version__,
        description="Mass broadcasts (shots) to the contacts of Telegram bots.",
    )
    app.state.db = db
    app.include_router(health.router)
    return app
