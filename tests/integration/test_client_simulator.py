"""The Bot API client against the simulator over real HTTP: every answer class, token sealed."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import AsyncIterator

import aiohttp
import pytest

from disparo.simulator import SimulatorConfig, SimulatorServer
from disparo.telegram import BotAPI
from disparo.telegram.errors import (
    BadRequest,
    Forbidden,
    MaybeDeliveredError,
    NotDeliveredError,
    ServerError,
    TelegramError,
    TooManyRequests,
    Unauthorized,
)

TOKEN = "555000111:TTHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"


@pytest.fixture
async def simulator() -> AsyncIterator[SimulatorServer]:
    """A simulator without latency, on an ephemeral port."""
    server = SimulatorServer(
        SimulatorConfig(latency_ms=0, latency_jitter_ms=0, slow_s=3, log_requests=True)
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def api(simulator: SimulatorServer) -> AsyncIterator[BotAPI]:
    """The client pointed at the simulator, with a short timeout for the slow-answer case."""
    async with BotAPI(simulator.base_url, timeout_s=1.0, connect_timeout_s=0.5) as client:
        yield client


async def _control(simulator: SimulatorServer, path: str, body: object) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{simulator.base_url}/sim/{path}", json=body) as response,
    ):
        assert response.status == 200, await response.text()


def _sealed(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.args)
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text


async def test_success_returns_telegram_message(api: BotAPI) -> None:
    """getMe and sendMessage answer with Telegram-shaped results."""
    bot = api.bot(TOKEN)
    me = await bot.get_me()
    assert me["id"] == 555000111
    assert me["is_bot"] is True
    message = await bot.send_message(42, "<b>Olá</b>, <i>mundo</i>")
    assert message["chat"]["id"] == 42
    assert message["text"] == "Olá, mundo"
    assert isinstance(message["message_id"], int)


async def test_malformed_token_is_unauthorized(api: BotAPI) -> None:
    """A token that is not `<digits>:<35 chars>` gets 401 Unauthorized."""
    with pytest.raises(Unauthorized) as caught:
        await api.bot("12:short").get_me()
    assert caught.value.error_code == 401
    assert caught.value.description == "Unauthorized"


@pytest.mark.parametrize(
    ("state", "error", "code", "description"),
    [
        ("blocked", Forbidden, 403, "Forbidden: bot was blocked by the user"),
        ("deactivated", Forbidden, 403, "Forbidden: user is deactivated"),
        ("missing", BadRequest, 400, "Bad Request: chat not found"),
    ],
)
async def test_recipient_states(
    api: BotAPI,
    simulator: SimulatorServer,
    state: str,
    error: type[TelegramError],
    code: int,
    description: str,
) -> None:
    """Blocked, deactivated and unknown users answer with Telegram's exact errors."""
    await _control(simulator, f"bots/{TOKEN}/users", [{"id": 7, "state": state}])
    with pytest.raises(error) as caught:
        await api.bot(TOKEN).send_message(7, "oi")
    assert caught.value.error_code == code  # type: ignore[attr-defined]
    assert caught.value.description == description  # type: ignore[attr-defined]
    _sealed(caught.value)


async def test_31st_message_in_a_second_gets_429(api: BotAPI) -> None:
    """Over 30 messages in one second, Telegram's 429 comes with retry_after."""
    bot = api.bot(TOKEN)
    for chat_id in range(1, 31):
        await bot.send_message(chat_id, "oi")
    with pytest.raises(TooManyRequests) as caught:
        await bot.send_message(31, "oi")
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 1
    assert caught.value.description.startswith("Too Many Requests: retry after ")


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        ({"text": "<b>unclosed"}, "can't parse entities"),
        ({"text": "x" * 4097}, "message is too long"),
        ({"photo": "ftp://example.org/a.jpg", "caption": "oi"}, "wrong HTTP URL"),
        ({"photo": "https://example.org/a.jpg", "caption": "x" * 1025}, "caption is too long"),
    ],
)
async def test_content_errors(api: BotAPI, call: dict[str, str], fragment: str) -> None:
    """HTML, length and media URL problems are Telegram's 400 Bad Request."""
    bot = api.bot(TOKEN)
    send = (
        bot.send_photo(9, call["photo"], caption=call["caption"])
        if "photo" in call
        else bot.send_message(9, call["text"])
    )
    with pytest.raises(BadRequest) as caught:
        await send
    assert fragment in caught.value.description


async def test_injected_5xx_is_server_error(api: BotAPI, simulator: SimulatorServer) -> None:
    """An injected 5xx (JSON or a proxy's HTML page) is a ServerError."""
    await _control(simulator, "faults", {"error_5xx": 1.0})
    for _ in range(4):
        with pytest.raises(ServerError) as caught:
            await api.bot(TOKEN).send_message(5, "oi")
        assert caught.value.error_code >= 500
        _sealed(caught.value)


async def test_dropped_connection_may_have_delivered(
    api: BotAPI, simulator: SimulatorServer
) -> None:
    """A connection closed after the request was sent is 'maybe delivered', never retried."""
    await _control(simulator, "faults", {"drop": 1.0})
    with pytest.raises(MaybeDeliveredError) as caught:
        await api.bot(TOKEN).send_message(5, "oi")
    _sealed(caught.value)


async def test_answer_slower_than_timeout_may_have_delivered(
    api: BotAPI, simulator: SimulatorServer
) -> None:
    """An answer slower than the client's timeout is 'maybe delivered'."""
    await _control(simulator, "faults", {"slow": 1.0})
    with pytest.raises(MaybeDeliveredError) as caught:
        await api.bot(TOKEN).send_message(5, "oi")
    _sealed(caught.value)


async def test_refused_connection_was_not_delivered() -> None:
    """Nothing listening on the port: 'not delivered', safe to retry."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with BotAPI(f"http://127.0.0.1:{port}", timeout_s=1.0) as client:
        with pytest.raises(NotDeliveredError) as caught:
            await client.bot(TOKEN).send_message(5, "oi")
    _sealed(caught.value)


async def test_token_never_logged(
    api: BotAPI, simulator: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Through success and failures at DEBUG level, no log line carries the token."""
    caplog.set_level(logging.DEBUG)
    bot = api.bot(TOKEN)
    await bot.send_message(1, "oi")
    await _control(simulator, "faults", {"error_5xx": 1.0})
    with pytest.raises(ServerError) as caught:
        await bot.send_message(1, "oi")
    logging.getLogger("disparo.test").error("send failed", exc_info=caught.value)
    assert "send failed" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(bot)
