"""Log lines: text and JSON formats, and the last-line-of-defence token mask."""

from __future__ import annotations

import json
import logging

import pytest

from disparo.logs import JSONFormatter, TextFormatter
from disparo.telegram.redact import TokenRedactingFilter, redact_tokens

TOKEN = "123456789:TTHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("disparo.test", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_redact_masks_token_shapes() -> None:
    """Anything shaped like a bot token keeps only the bot id."""
    assert redact_tokens(f"url /bot{TOKEN}/sendMessage") == "url /bot123456789:****/sendMessage"
    assert redact_tokens("shot 12:30 at 10:00") == "shot 12:30 at 10:00"


def test_filter_masks_message_args_and_extra_fields() -> None:
    """The filter masks the formatted message and string extra fields."""
    record = _record("calling %s", f"/bot{TOKEN}/getMe", url=f"https://x/bot{TOKEN}/getMe")
    assert TokenRedactingFilter().filter(record)
    assert TOKEN not in record.getMessage()
    assert TOKEN not in record.url  # type: ignore[attr-defined]


def test_text_format_shows_extra_fields() -> None:
    """Text lines carry the message and key=value pairs of the extra fields."""
    line = TextFormatter().format(_record("[SHOTS][WORKER] batch completed", shot_id=7, sent=30))
    assert "INFO [SHOTS][WORKER] batch completed" in line
    assert "shot_id=7" in line
    assert "sent=30" in line


def test_json_format_is_one_object_per_line() -> None:
    """JSON lines parse and carry level, message and extra fields."""
    line = JSONFormatter().format(_record("[SHOTS][AUDIENCE]", bot_slug="loja", count=12))
    payload = json.loads(line)
    assert payload["level"] == "INFO"
    assert payload["msg"] == "[SHOTS][AUDIENCE]"
    assert payload["bot_slug"] == "loja"
    assert payload["count"] == 12


def test_exceptions_are_masked_in_both_formats() -> None:
    """A traceback that mentions a token is masked in text and JSON output."""
    try:
        raise RuntimeError(f"failed at /bot{TOKEN}/sendMessage")
    except RuntimeError:
        import sys

        record = _record("boom")
        record.exc_info = sys.exc_info()
    assert TOKEN not in TextFormatter().format(record)
    assert TOKEN not in JSONFormatter().format(record)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_configure_logging_installs_the_mask(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    """After configure_logging, a token logged by any library reaches stderr masked."""
    from disparo.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(fmt, "INFO")
        logging.getLogger("some.library").warning("GET https://api/bot%s/getMe", TOKEN)
        err = capsys.readouterr().err
        assert "123456789:****" in err
        assert TOKEN not in err
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_statement_loggers_are_quieted() -> None:
    """Loggers that print URLs or SQL parameters are held at WARNING even in DEBUG mode."""
    from disparo.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("text", "DEBUG")
        for name in ("aiosqlite", "aiohttp.client", "uvicorn.access"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
