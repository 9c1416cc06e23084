"""What a shot sends: the Bot API calls that deliver it to one recipient, in order.

The one definition, used by the worker for every recipient and by the API's test send.

photo / video: sendPhoto / sendVideo with the copy as caption. audio: sendAudio, then the copy
in its own sendMessage (only once the audio went through). none: sendMessage without link
preview. parse_mode=HTML on every call that carries the copy; the buttons ride on the message
that carries the copy; allow_paid_broadcast on every call when the bot pays for broadcasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from disparo.domain.copy import CopyError, buttons_markup
from disparo.domain.errors import DomainError
from disparo.domain.statuses import MediaType

NO_PREVIEW = {"is_disabled": True}


class ShotContentError(DomainError):
    """The shot's media or buttons cannot be sent as stored; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Step:
    """One Bot API call of a delivery: the method and every parameter except `chat_id`."""

    method: str
    params: dict[str, Any]
    carries_copy: bool


def _text_step(copy: str, markup: dict[str, Any] | None, extra: dict[str, Any]) -> Step:
    params: dict[str, Any] = {
        "text": copy,
        "parse_mode": "HTML",
        "link_preview_options": NO_PREVIEW,
        **extra,
    }
    if markup is not None:
        params["reply_markup"] = markup
    return Step("sendMessage", params, carries_copy=True)


def delivery_steps(
    *,
    copy: str,
    media_type: str,
    media_url: str | None,
    buttons: Any,
    paid_broadcast: bool,
) -> tuple[Step, ...]:
    """The calls that deliver this shot to one recipient, in order."""
    try:
        markup = buttons_markup(buttons)
    except CopyError as exc:
        raise ShotContentError(f"the shot's buttons cannot be sent: {exc}") from None
    extra: dict[str, Any] = {"allow_paid_broadcast": True} if paid_broadcast else {}
    kind = MediaType(media_type)
    if kind is MediaType.NONE:
        return (_text_step(copy, markup, extra),)
    if not media_url:
        raise ShotContentError(
            f"the shot's media_type is '{kind.value}' but it has no media_url; set a public "
            "http(s) URL of the file or a Telegram file_id, or set media_type to 'none'"
        )
    if kind is MediaType.AUDIO:
        audio = Step("sendAudio", {"audio": media_url, **extra}, carries_copy=False)
        return (audio, _text_step(copy, markup, extra))
    method, field = ("sendPhoto", "photo") if kind is MediaType.PHOTO else ("sendVideo", "video")
    params: dict[str, Any] = {field: media_url, "caption": copy, "parse_mode": "HTML", **extra}
    if markup is not None:
        params["reply_markup"] = markup
    return (Step(method, params, carries_copy=True),)
