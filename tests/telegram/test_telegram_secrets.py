"""The bot token never leaks: not in logs, errors, tracebacks, chained exceptions or reprs."""

from __future__ import annotations

import copy
import logging
import pickle
import traceback

import pytest
from telegram_fake import SCENARIOS, SECRET, TOKEN, FakeTelegram, provoke

from disparo.telegram import Bot, BotAPI, install_log_redaction, mask_token, redact_tokens
from disparo.telegram.redact import REDACTED_LOGGERS


def _exposed_text(exc: BaseException) -> str:
    """Everything an operator, a log handler or an error tracker could print of ``exc``."""
    parts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    parts += traceback.format_exception(exc)
    chained: BaseException | None = exc
    while chained is not None:
        parts += [repr(chained), repr(chained.__cause__), repr(chained.__context__)]
        chained = chained.__cause__ or chained.__context__
    return "\n".join(parts)


def _capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    """Capture DEBUG and up, even from library loggers another test quietened."""
    caplog.set_level(logging.DEBUG)
    for name in REDACTED_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_token_never_leaks(
    fake_telegram: FakeTelegram,
    closed_port: int,
    scenario: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Success and every error class: no log line or exception text holds the token's secret."""
    _capture_everything(caplog)
    raised = await provoke(fake_telegram, scenario, closed_port)
    await fake_telegram.stop()  # so held handlers finish and log inside the test
    if raised is not None:
        text = _exposed_text(raised)
        assert SECRET not in text
        assert raised.__cause__ is None
        assert raised.__context__ is None
    assert SECRET not in caplog.text
    if scenario != "refused":
        assert any(r.name == "aiohttp.access" for r in caplog.records)


async def test_reprs_hide_the_token(bot: Bot, bot_api: BotAPI) -> None:
    """The handle and the client show the bot id and the host only."""
    assert SECRET not in repr(bot)
    assert SECRET not in str(bot)
    assert repr(bot).startswith("<Bot 123456789:**** at 127.0.0.1:")
    assert SECRET not in repr(bot_api)
    assert not hasattr(bot, "__dict__")


def test_a_handle_cannot_be_pickled_or_copied(bot: Bot) -> None:
    """Serialising a handle would write the token out; it is refused."""
    for attempt in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="sealed token") as info:
            attempt(bot)
        assert SECRET not in _exposed_text(info.value)


def test_mask_token() -> None:
    """mask_token keeps the bot id and hides the secret."""
    assert mask_token(TOKEN) == "123456789:****"
    assert mask_token("no-colon-here") == "****"
    assert mask_token("abc:def") == "****"


def test_redact_tokens_in_free_text() -> None:
    """Token-shaped substrings are masked wherever they appear, URLs included."""
    text = f"POST https://api.telegram.org/bot{TOKEN}/sendMessage and {TOKEN}."
    assert redact_tokens(text) == (
        "POST https://api.telegram.org/bot123456789:****/sendMessage and 123456789:****."
    )
    assert redact_tokens("at 12:30:45, id 7") == "at 12:30:45, id 7"


@pytest.mark.parametrize("name", REDACTED_LOGGERS)
def test_library_loggers_are_scrubbed(name: str, caplog: pytest.LogCaptureFixture) -> None:
    """aiohttp's and asyncio's loggers cannot print a URL with a token, in any record part."""
    install_log_redaction()
    install_log_redaction()  # idempotent
    _capture_everything(caplog)
    url = f"https://api.telegram.org/bot{TOKEN}/getMe"
    logger = logging.getLogger(name)
    try:
        raise ValueError(url)
    except ValueError:
        logger.exception("request to %s failed", url, extra={"request_line": f"POST {url}"})
    [record] = [r for r in caplog.records if r.name == name]
    assert SECRET not in caplog.text
    assert SECRET not in record.getMessage()
    assert SECRET not in record.request_line  # type: ignore[attr-defined]
    assert "bot123456789:****/getMe" in caplog.text
    assert sum(f is logger.filters[0] for f in logger.filters) == 1
