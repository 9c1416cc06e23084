"""One pooled session: keep-alive connections are reused, bounded, and closed with the client."""

from __future__ import annotations

import asyncio

import pytest
from telegram_fake import TOKEN, FakeTelegram

from disparo.telegram import Bot, BotAPI, NotDeliveredError


async def test_sequential_calls_reuse_one_connection(bot: Bot, fake_telegram: FakeTelegram) -> None:
    """Twenty calls in a row travel over a single TCP connection."""
    for chat_id in range(20):
        await bot.send_message(chat_id, "hi")
    assert len(fake_telegram.requests) == 20
    assert len(fake_telegram.peers) == 1


async def test_bots_share_the_pool(bot_api: BotAPI, fake_telegram: FakeTelegram) -> None:
    """Handles of different bots use the same pooled connection."""
    for bot_id in range(5):
        await bot_api.bot(f"{bot_id + 1}00:{TOKEN.partition(':')[2]}").get_me()
    assert {r.token.partition(":")[0] for r in fake_telegram.requests} == {
        "100",
        "200",
        "300",
        "400",
        "500",
    }
    assert len(fake_telegram.peers) == 1


async def test_connections_are_bounded_by_limit(fake_telegram: FakeTelegram) -> None:
    """Concurrent calls never open more connections than the configured limit."""
    fake_telegram.delay("sendMessage", 0.02)
    async with BotAPI(fake_telegram.base_url, limit=3) as api:
        bot = api.bot(TOKEN)
        await asyncio.gather(*(bot.send_message(i, "hi") for i in range(30)))
    assert len(fake_telegram.requests) == 30
    assert 1 < len(fake_telegram.peers) <= 3


async def test_a_connection_closed_while_idle_is_not_reused() -> None:
    """After the server drops an idle keep-alive connection, the next call opens a new one."""
    fake = FakeTelegram()
    await fake.start(keepalive_timeout_s=0.05)
    try:
        async with BotAPI(fake.base_url) as api:
            bot = api.bot(TOKEN)
            await bot.get_me()
            await asyncio.sleep(0.3)  # the server closes the idle connection meanwhile
            await bot.get_me()
        assert len(fake.peers) == 2
    finally:
        await fake.stop()


async def test_client_closes_its_pool(fake_telegram: FakeTelegram) -> None:
    """Leaving the context closes the pool and its connections; start and aclose are idempotent."""
    api = BotAPI(fake_telegram.base_url)
    async with api:
        await api.start()
        pool = api.pool()
        await api.bot(TOKEN).get_me()
        assert api.started
        assert api.open_connections == 1
    await asyncio.sleep(0.05)
    assert pool.open_connections == 0
    assert not api.started
    await api.aclose()


async def test_on_write_runs_once_when_the_request_is_written(
    bot: Bot, fake_telegram: FakeTelegram, closed_port: int
) -> None:
    """`on_write` runs once per written request, after the connection exists; never for a
    request that could not be written."""
    writes: list[int] = []
    await bot.call("sendMessage", {"chat_id": 1, "text": "hi"}, on_write=lambda: writes.append(1))
    assert writes == [1]
    async with BotAPI(f"http://127.0.0.1:{closed_port}", connect_timeout_s=0.5) as api:
        with pytest.raises(NotDeliveredError):
            await api.bot(TOKEN).call(
                "sendMessage", {"chat_id": 1, "text": "hi"}, on_write=lambda: writes.append(2)
            )
    assert writes == [1]
