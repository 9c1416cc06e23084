"""Keeping bot tokens out of text: masking one token, and scrubbing HTTP libraries' log records.

The Bot API puts the token in the URL path (``/bot<token>/<method>``), so any library that logs
a URL (aiohttp's client and access loggers, asyncio's exception handler) would print it.
"""

from __future__ import annotations

import logging
import re

# A bot token is "<bot id>:<secret>"; real secrets are 35 characters, test ones may be shorter.
_TOKEN_RE = re.compile(r"(?<![0-9])([0-9]+):[A-Za-z0-9_-]{16,}")
_TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")

# The loggers of the libraries under the client (and of aiohttp.web servers in this process).
REDACTED_LOGGERS = (
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
    "asyncio",
)

# Attributes every LogRecord has; anything else on a record came from ``extra=`` (aiohttp's
# access logger puts the request line there) and may be printed by a structured formatter.
STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def is_token_shaped(token: str) -> bool:
    """Whether ``token`` has the shape of a bot token: digits, a colon, a secret."""
    return _TOKEN_SHAPE.fullmatch(token) is not None


def mask_token(token: str) -> str:
    """The token with its secret hidden: ``123456:ABC-DEF…`` becomes ``123456:****``."""
    bot_id, colon, _ = token.partition(":")
    if colon and bot_id.isdigit():
        return f"{bot_id}:****"
    return "****"


def redact_tokens(text: str) -> str:
    """``text`` with every token-shaped substring masked."""
    return _TOKEN_RE.sub(r"\1:****", text)


class TokenRedactingFilter(logging.Filter):
    """A logging filter that masks bot tokens in a record's message, extras and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a broken record is for the handler to report, not for us
            return True
        if _TOKEN_RE.search(message):
            record.msg = redact_tokens(message)
            record.args = ()
        fields = record.__dict__
        dirty = [
            key
            for key, value in fields.items()
            if key not in STANDARD_ATTRS and isinstance(value, str) and _TOKEN_RE.search(value)
        ]
        for key in dirty:
            fields[key] = redact_tokens(fields[key])
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_tokens(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_tokens(record.stack_info)
        return True


_FILTER = TokenRedactingFilter()


def install_log_redaction() -> None:
    """Attach the token filter to the HTTP libraries' loggers; calling it again is harmless."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
