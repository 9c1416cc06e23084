"""A bot's handle on the pooled client: the token sealed inside, one coroutine per Bot API call.

``Bot.call`` is the broadcast hot path: the per-method path is built once and cached, the body is
encoded with orjson, the request goes over the client's lean keep-alive pool, and nothing is
logged. Helpers send only the fields the method accepts and
leave out every parameter that is None.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, Protocol

import orjson

from disparo.telegram.errors import (
    MalformedTokenError,
    TelegramError,
    error_from_answer,
    error_from_bad_answer,
    error_from_send_failure,
)
from disparo.telegram.redact import is_token_shaped, mask_token
from disparo.telegram.transport import HttpPool, SendFailed
from disparo.telegram.types import ChatId, Message, MessageId, Update, User

Markup = Mapping[str, Any]


class Endpoint(Protocol):
    """What a Bot sends through: the Bot API server's address and connection pool (`BotAPI`)."""

    path_prefix: str
    timeout_s: float

    @property
    def host(self) -> str:
        """``host[:port]`` of the Bot API server, for messages."""
        ...

    def pool(self) -> HttpPool:
        """The started connection pool."""
        ...


# The Bot API methods the helpers call; scripts/extract_bot_api.py extracts their fields.
HELPER_METHODS = (
    "getMe",
    "sendMessage",
    "sendPhoto",
    "sendVideo",
    "sendAudio",
    "copyMessage",
    "deleteMessage",
    "editMessageText",
    "editMessageCaption",
    "setWebhook",
    "deleteWebhook",
    "getUpdates",
)

_METHOD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def _compact(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _captioned(
    caption: str | None,
    parse_mode: str | None,
    reply_markup: Markup | None,
    allow_paid_broadcast: bool | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The optional fields of a send with a caption; parse_mode applies to the caption only, so
    it is sent only with one."""
    return _compact(
        caption=caption,
        parse_mode=None if caption is None else parse_mode,
        reply_markup=reply_markup,
        allow_paid_broadcast=allow_paid_broadcast,
        **extra,
    )


class Bot:
    """One bot's handle: ``await bot.send_message(chat_id, "<b>Hi</b>")``.

    Cheap to create and to keep; it holds no connection of its own. Its repr and every error it
    raises show the bot id and the host, never the token.
    """

    __slots__ = ("_api", "_masked", "_prefix", "_urls", "bot_id")

    def __init__(self, api: Endpoint, token: str) -> None:
        if not is_token_shaped(token):
            raise MalformedTokenError(
                "a bot token must look like '<bot id>:<secret>' (digits, a colon, then letters, "
                f"digits, '_' or '-'); the value given ({len(token)} characters) does not"
            )
        self._api = api
        self._prefix = f"{api.path_prefix}/bot{token}/"
        self._urls: dict[str, str] = {}
        self._masked = mask_token(token)
        self.bot_id = int(token.partition(":")[0])

    def __repr__(self) -> str:
        return f"<Bot {self._masked} at {self._api.host}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Bot handle cannot be pickled or copied: it holds a sealed token")

    def _url(self, method: str) -> str:
        if not _METHOD_NAME.fullmatch(method):
            raise ValueError(f"{method!r} is not a Bot API method name such as 'sendMessage'")
        url = self._urls[method] = self._prefix + method
        return url

    async def call(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        timeout_s: float | None = None,
        on_write: Callable[[], object] | None = None,
    ) -> Any:
        """Call a Bot API ``method`` with ``params`` (sent as given) and return its ``result``.

        Raises a TelegramAPIError subclass for an ``ok:false`` answer, NotDeliveredError when
        no connection could be made, MaybeDeliveredError when the request may have been sent.
        A call cancelled while in flight may have been delivered too: treat it as unknown.
        ``on_write`` is called right before the request is written to its connection (after
        any wait for one), and never if it is not written: a rate limiter stamps real send
        times with it.
        """
        url = self._urls.get(method) or self._url(method)
        api = self._api
        pool = api.pool()
        body = orjson.dumps(params if isinstance(params, dict) else dict(params))
        try:
            status, raw = await pool.post(
                url, body, api.timeout_s if timeout_s is None else timeout_s, on_write
            )
        except SendFailed as exc:
            error: TelegramError = error_from_send_failure(method, api.host, exc)
        else:
            try:
                answer = orjson.loads(raw)
            except orjson.JSONDecodeError:
                answer = None
            if type(answer) is dict:
                ok = answer.get("ok")
                if ok is True and "result" in answer:
                    return answer["result"]
                if ok is False:
                    raise error_from_answer(method, api.host, status, answer)
            raise error_from_bad_answer(method, api.host, status, len(raw))
        # Raised outside the except block, so that the transport's exception is neither its
        # __cause__ nor its __context__ (nothing of the request, which holds the token, leaks).
        raise error

    async def get_me(self) -> User:
        """The bot's own user: id, first_name, username."""
        result: User = await self.call("getMe", {})
        return result

    async def send_message(
        self,
        chat_id: ChatId,
        text: str,
        *,
        parse_mode: str | None = "HTML",
        link_preview_options: Markup | None = None,
        reply_markup: Markup | None = None,
        allow_paid_broadcast: bool | None = None,
        **extra: Any,
    ) -> Message:
        """Send a text message; ``link_preview_options={"is_disabled": True}`` hides previews."""
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        params |= _compact(
            parse_mode=parse_mode,
            link_preview_options=link_preview_options,
            reply_markup=reply_markup,
            allow_paid_broadcast=allow_paid_broadcast,
            **extra,
        )
        result: Message = await self.call("sendMessage", params)
        return result

    async def send_photo(
        self,
        chat_id: ChatId,
        photo: str,
        *,
        caption: str | None = None,
        parse_mode: str | None = "HTML",
        reply_markup: Markup | None = None,
        allow_paid_broadcast: bool | None = None,
        **extra: Any,
    ) -> Message:
        """Send a photo by URL or file_id, with an optional caption (at most 1024 characters)."""
        params: dict[str, Any] = {"chat_id": chat_id, "photo": photo}
        params |= _captioned(caption, parse_mode, reply_markup, allow_paid_broadcast, extra)
        result: Message = await self.call("sendPhoto", params)
        return result

    async def send_video(
        self,
        chat_id: ChatId,
        video: str,
        *,
        caption: str | None = None,
        parse_mode: str | None = "HTML",
        reply_markup: Markup | None = None,
        allow_paid_broadcast: bool | None = None,
        **extra: Any,
    ) -> Message:
        """Send a video by URL or file_id, with an optional caption (at most 1024 characters)."""
        params: dict[str, Any] = {"chat_id": chat_id, "video": video}
        params |= _captioned(caption, parse_mode, reply_markup, allow_paid_broadcast, extra)
        result: Message = await self.call("sendVideo", params)
        return result

    async def send_audio(
        self,
        chat_id: ChatId,
        audio: str,
        *,
        caption: str | None = None,
        parse_mode: str | None = "HTML",
        reply_markup: Markup | None = None,
        allow_paid_broadcast: bool | None = None,
        **extra: Any,
    ) -> Message:
        """Send an audio file by URL or file_id, with an optional caption."""
        params: dict[str, Any] = {"chat_id": chat_id, "audio": audio}
        params |= _captioned(caption, parse_mode, reply_markup, allow_paid_broadcast, extra)
        result: Message = await self.call("sendAudio", params)
        return result

    async def copy_message(
        self,
        chat_id: ChatId,
        from_chat_id: ChatId,
        message_id: int,
        *,
        caption: str | None = None,
        parse_mode: str | None = "HTML",
        reply_markup: Markup | None = None,
        allow_paid_broadcast: bool | None = None,
        **extra: Any,
    ) -> MessageId:
        """Copy a message (its caption replaced if ``caption`` is given); returns its new id."""
        params: dict[str, Any] = {
            "chat_id": chat_id,
            "from_chat_id": from_chat_id,
            "message_id": message_id,
        }
        params |= _captioned(caption, parse_mode, reply_markup, allow_paid_broadcast, extra)
        result: MessageId = await self.call("copyMessage", params)
        return result

    async def delete_message(self, chat_id: ChatId, message_id: int) -> bool:
        """Delete a message the bot sent (within 48 hours)."""
        result: bool = await self.call(
            "deleteMessage", {"chat_id": chat_id, "message_id": message_id}
        )
        return result

    async def edit_message_text(
        self,
        chat_id: ChatId,
        message_id: int,
        text: str,
        *,
        parse_mode: str | None = "HTML",
        link_preview_options: Markup | None = None,
        reply_markup: Markup | None = None,
    ) -> Message | bool:
        """Replace the text of a message the bot sent."""
        params = _compact(
            chat_id=chat_id,
            message_id=message_id,
            text=text,
            parse_mode=parse_mode,
            link_preview_options=link_preview_options,
            reply_markup=reply_markup,
        )
        result: Message | bool = await self.call("editMessageText", params)
        return result

    async def edit_message_caption(
        self,
        chat_id: ChatId,
        message_id: int,
        caption: str,
        *,
        parse_mode: str | None = "HTML",
        reply_markup: Markup | None = None,
    ) -> Message | bool:
        """Replace the caption of a media message the bot sent."""
        params = _compact(
            chat_id=chat_id,
            message_id=message_id,
            caption=caption,
            parse_mode=parse_mode,
            reply_markup=reply_markup,
        )
        result: Message | bool = await self.call("editMessageCaption", params)
        return result

    async def set_webhook(
        self,
        url: str,
        *,
        secret_token: str | None = None,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
    ) -> bool:
        """Have Telegram POST updates to ``url``, with ``secret_token`` in a header."""
        params = _compact(
            url=url,
            secret_token=secret_token,
            allowed_updates=None if allowed_updates is None else list(allowed_updates),
            drop_pending_updates=drop_pending_updates,
        )
        result: bool = await self.call("setWebhook", params)
        return result

    async def delete_webhook(self, *, drop_pending_updates: bool | None = None) -> bool:
        """Remove the webhook (needed before getUpdates polling works)."""
        params = _compact(drop_pending_updates=drop_pending_updates)
        result: bool = await self.call("deleteWebhook", params)
        return result

    async def get_updates(
        self,
        *,
        offset: int | None = None,
        timeout: int = 0,  # noqa: ASYNC109 - the Bot API's long-poll parameter
        limit: int | None = None,
        allowed_updates: Sequence[str] | None = None,
    ) -> list[Update]:
        """Long-poll for updates; ``timeout`` is the server-side wait in seconds."""
        params = _compact(
            offset=offset,
            timeout=timeout,
            limit=limit,
            allowed_updates=None if allowed_updates is None else list(allowed_updates),
        )
        # The server holds the request up to `timeout` seconds: the HTTP timeout must outlast it.
        result: list[Update] = await self.call(
            "getUpdates", params, timeout_s=timeout + self._api.timeout_s
        )
        return result
