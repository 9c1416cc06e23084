"""Typed errors of the Bot API client; each class's docstring is its default message.

No error carries a bot token: messages name the Bot API method and the host only, and errors
raised for a failed HTTP exchange are raised outside the ``except`` block that caught the
transport's exception, so neither ``__cause__`` nor ``__context__`` holds an aiohttp exception
(whose text or ``request_info`` may contain the URL, and the URL contains the token).
"""

from __future__ import annotations

from typing import Any

from disparo.errors import DisparoError
from disparo.telegram.transport import SendFailed


def _default_message(cls: type) -> str:
    return " ".join((cls.__doc__ or cls.__name__).split())


class TelegramError(DisparoError):
    """The Telegram Bot API request failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _default_message(type(self)))

    @property
    def message(self) -> str:
        """The human-readable message (the same as ``str(error)``)."""
        return str(self.args[0])


class MalformedTokenError(TelegramError, ValueError):
    """The value given as a bot token does not have a token's shape ('<bot id>:<secret>')."""


class TelegramAPIError(TelegramError):
    """Telegram answered the request with ok=false."""

    # Every argument has a default so that copy and pickle, which rebuild an exception from
    # its args and then restore its __dict__, work.
    def __init__(
        self,
        message: str | None = None,
        *,
        method: str = "",
        host: str = "",
        error_code: int = 0,
        description: str = "",
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        if message is None and description:
            message = f"{method} on {host}: Telegram answered {error_code} {description}"
        super().__init__(message)
        self.method = method
        self.host = host
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id


class BadRequest(TelegramAPIError):  # noqa: N818 - named after Telegram's answer
    """Telegram refused the request as malformed (400): check the chat, the text and the fields."""


class Unauthorized(TelegramAPIError):  # noqa: N818 - named after Telegram's answer
    """Telegram refused the bot token (401): it is wrong or was revoked in @BotFather."""


class Forbidden(TelegramAPIError):  # noqa: N818 - named after Telegram's answer
    """Telegram forbade the request (403): the bot was blocked or the user is deactivated."""


class NotFound(TelegramAPIError):  # noqa: N818 - named after Telegram's answer
    """Telegram did not find the method or the object (404)."""


class Conflict(TelegramAPIError):  # noqa: N818 - named after Telegram's answer
    """The request conflicts with another (409): a webhook is set, or another getUpdates runs."""


class TooManyRequests(TelegramAPIError):  # noqa: N818 - named after Telegram's answer
    """Telegram rate-limited the bot (429): wait retry_after seconds before sending again."""


class ServerError(TelegramAPIError):
    """Telegram or a proxy in front of it failed (5xx): retry later with backoff."""


class NetworkError(TelegramError):
    """The HTTP exchange with the Bot API server failed."""

    def __init__(self, message: str | None = None, *, method: str = "", host: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.host = host


class NotDeliveredError(NetworkError):
    """The request surely never reached the Bot API server (no connection); it is safe to retry."""


class MaybeDeliveredError(NetworkError):
    """The request was sent but no answer came back; delivery is unknown: never retry a send."""


_ERRORS_BY_CODE: dict[int, type[TelegramAPIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: TooManyRequests,
}


def api_error_class(error_code: int) -> type[TelegramAPIError]:
    """The exception class for an ``ok:false`` answer with this ``error_code``."""
    if error_code >= 500:
        return ServerError
    return _ERRORS_BY_CODE.get(error_code, TelegramAPIError)


def _int_or_none(value: Any) -> int | None:
    return value if type(value) is int else None


def error_from_answer(
    method: str, host: str, status: int, answer: dict[str, Any]
) -> TelegramAPIError:
    """Build the typed error for a decoded ``{"ok": false, ...}`` answer."""
    code = answer.get("error_code")
    error_code = code if type(code) is int else status
    description = answer.get("description")
    if not isinstance(description, str) or not description:
        description = f"(no description, HTTP {status})"
    parameters = answer.get("parameters")
    if not isinstance(parameters, dict):
        parameters = {}
    return api_error_class(error_code)(
        method=method,
        host=host,
        error_code=error_code,
        description=description,
        retry_after=_int_or_none(parameters.get("retry_after")),
        migrate_to_chat_id=_int_or_none(parameters.get("migrate_to_chat_id")),
    )


def error_from_bad_answer(method: str, host: str, status: int, size: int) -> TelegramError:
    """Build the error for an answer that is not a Bot API JSON object (e.g. a proxy's HTML)."""
    what = f"HTTP {status} with an answer that is not Bot API JSON ({size} bytes)"
    if 200 <= status < 300:
        # Telegram accepted the request, so it may well have delivered the message.
        return MaybeDeliveredError(
            f"{method} on {host}: {what}; delivery is unknown", method=method, host=host
        )
    hint = "" if status >= 500 else ": is the base URL a Bot API server?"
    return api_error_class(status)(
        f"{method} on {host}: {what}{hint}",
        method=method,
        host=host,
        error_code=status,
        description=what,
    )


# A failure before any byte of the request left the client (refused, DNS, no pooled connection
# within the connect timeout) is NotDelivered; everything after the bytes were handed to a
# connection is MaybeDelivered, including the keep-alive race (a pooled connection the server
# closed while idle): that request was almost surely not processed, but the client cannot tell
# it from "processed, then the connection dropped", so it is never resent. The race is kept rare
# by closing idle pooled connections client-side (BotAPI.keepalive_timeout_s) before servers do.
def error_from_send_failure(method: str, host: str, failure: SendFailed) -> NetworkError:
    """The typed error of a failed exchange on the lean pool (`transport`): NotDelivered when
    the request never reached a connection, MaybeDelivered once its bytes were handed to one."""
    if not failure.maybe_sent:
        return NotDeliveredError(
            f"{method} on {host}: could not connect ({failure.reason}); the request was not sent",
            method=method,
            host=host,
        )
    return MaybeDeliveredError(
        f"{method} on {host}: the request was sent but {failure.reason}; delivery is unknown",
        method=method,
        host=host,
    )
