"""Telegram Bot API client: one pooled async HTTP client, base URL injectable, errors typed."""

from disparo.telegram.bot import Bot
from disparo.telegram.client import DEFAULT_BASE_URL, BotAPI
from disparo.telegram.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MalformedTokenError,
    MaybeDeliveredError,
    NetworkError,
    NotDeliveredError,
    NotFound,
    ServerError,
    TelegramAPIError,
    TelegramError,
    TooManyRequests,
    Unauthorized,
)
from disparo.telegram.redact import install_log_redaction, mask_token, redact_tokens
from disparo.telegram.types import ChatId, Message, MessageId, Update, User

__all__ = [
    "DEFAULT_BASE_URL",
    "BadRequest",
    "Bot",
    "BotAPI",
    "ChatId",
    "Conflict",
    "Forbidden",
    "MalformedTokenError",
    "MaybeDeliveredError",
    "Message",
    "MessageId",
    "NetworkError",
    "NotDeliveredError",
    "NotFound",
    "ServerError",
    "TelegramAPIError",
    "TelegramError",
    "TooManyRequests",
    "Unauthorized",
    "Update",
    "User",
    "install_log_redaction",
    "mask_token",
    "redact_tokens",
]
