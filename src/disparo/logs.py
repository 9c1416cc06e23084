"""Structured log lines: human-readable by default, one JSON object a line with `json`.

A filter (`disparo.telegram.redact`, the one token redactor) masks anything shaped like a bot
token in every record, as a last line of defence: tokens are sealed inside the Telegram client
and never handed to a logger on purpose.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from disparo.telegram.redact import STANDARD_ATTRS, TokenRedactingFilter, redact_tokens


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in STANDARD_ATTRS}


class TextFormatter(logging.Formatter):
    """`2026-11-30T12:00:00.123Z INFO [SHOTS][WORKER] batch completed shot_id=7 sent=30`."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{when.replace('+00:00', 'Z')} {record.levelname} {record.getMessage()}"
        if extra:
            line += " " + extra
        if record.exc_info:
            line += "\n" + redact_tokens(self.formatException(record.exc_info))
        return line


class JSONFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, msg and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            payload["exc"] = redact_tokens(self.formatException(record.exc_info))
        return orjson.dumps(payload, default=str).decode()


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Send every log record to stderr in `fmt`, token-shaped text masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(TokenRedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # HTTP libraries log request lines with full URLs, and a Bot API URL holds the token.
    # aiosqlite logs every statement with its parameters (tokens, contacts) at DEBUG.
    for noisy in (
        "aiohttp.access",
        "aiohttp.client",
        "httpx",
        "httpcore",
        "uvicorn.access",
        "aiosqlite",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
