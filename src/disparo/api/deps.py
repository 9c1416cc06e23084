"""What routes receive by injection: the database, settings, Bot API client, token cipher, clock.

Everything is built by `services` and put on `app.state` by `create_app`; nothing is built here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request

from disparo.config import Settings
from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.telegram import BotAPI

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _telegram(request: Request) -> BotAPI:
    telegram: BotAPI = request.app.state.telegram
    return telegram


def _cipher(request: Request) -> TokenCipher:
    cipher: TokenCipher = request.app.state.cipher
    return cipher


def _now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock()


DB = Annotated[Database, Depends(_db)]
AppSettings = Annotated[Settings, Depends(_settings)]
Telegram = Annotated[BotAPI, Depends(_telegram)]
Cipher = Annotated[TokenCipher, Depends(_cipher)]
Now = Annotated[datetime, Depends(_now)]

MAX_ID = 2**63 - 1  # ids are BIGINT
ShotId = Annotated[int, Path(ge=1, le=MAX_ID, description="the shot's id")]
BotSlug = Annotated[str, Path(description="the bot's slug")]
