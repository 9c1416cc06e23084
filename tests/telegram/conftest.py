"""Fixtures of the client tests: the fake Bot API server, a started client, the test bot."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from telegram_fake import TOKEN, FakeTelegram

from disparo.telegram import Bot, BotAPI


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """A started fake Bot API server, stopped after the test."""
    fake = FakeTelegram()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def bot_api(fake_telegram: FakeTelegram) -> AsyncIterator[BotAPI]:
    """A started client pointed at the fake server."""
    async with BotAPI(fake_telegram.base_url, timeout_s=5.0, connect_timeout_s=2.0) as api:
        yield api


@pytest.fixture
def bot(bot_api: BotAPI) -> Bot:
    """The test bot's handle."""
    return bot_api.bot(TOKEN)


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
