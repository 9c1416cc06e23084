"""What Telegram would refuse in a shot's copy, media URL and buttons, found before sending.

The HTML rules themselves live in `disparo.domain.telegram_html`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from disparo.domain.errors import DomainError
from disparo.domain.telegram_html import CopyProblem, measure_html, validate_html, visible_length
from disparo.domain.telegram_values import BAD_URL_CHAR

TEXT_LIMIT = 4096  # a text message, and the text sent after an audio
CAPTION_LIMIT = 1024  # the caption of a photo or a video
MEDIA_URL_LIMIT = 2048
BUTTON_TEXT_LIMIT = 64
ROW_BUTTONS_LIMIT = 8
BUTTONS_LIMIT = 100
MEDIA_TYPES = ("none", "photo", "video", "audio")

__all__ = [
    "CopyError",
    "CopyProblem",
    "buttons_markup",
    "check_buttons",
    "check_copy",
    "check_media_url",
    "validate_html",
    "visible_length",
]
CAPTIONED_MEDIA = ("photo", "video")


class CopyError(DomainError):
    """The shot's copy, media or buttons would be refused by Telegram."""

    def __init__(self, message: str, field: str = "copy") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_copy(copy: str, media_type: str = "none") -> None:
    """Raise CopyError unless ``copy`` is valid, non-empty HTML within the limit for its media."""
    if media_type not in MEDIA_TYPES:
        raise CopyError(
            f"media_type must be one of {', '.join(MEDIA_TYPES)}; got {media_type!r}",
            field="media_type",
        )
    if not isinstance(copy, str):
        raise CopyError("the copy must be text")
    length, problems = measure_html(copy)
    if problems:
        more = f" ({len(problems) - 1} more after it)" if len(problems) > 1 else ""
        raise CopyError(f"the copy is not valid Telegram HTML: {problems[0]}{more}")
    if length == 0:
        raise CopyError("the copy is empty: write the message (tags and spaces alone are empty)")
    if media_type in CAPTIONED_MEDIA:
        limit, what = CAPTION_LIMIT, f"the caption of a {media_type}"
    else:
        limit, what = TEXT_LIMIT, "a message" if media_type == "none" else "the text after an audio"
    if length > limit:
        raise CopyError(
            f"the copy is {length} characters long without its tags; Telegram accepts at most "
            f"{limit} in {what}: shorten it by {length - limit}"
        )


def _check_url(url: object, *, field: str, what: str, schemes: tuple[str, ...]) -> None:
    if not isinstance(url, str) or not url:
        raise CopyError(f"{what} is empty: give a link starting with {schemes[0]}://", field=field)
    if len(url) > MEDIA_URL_LIMIT:
        raise CopyError(
            f"{what} is {len(url)} characters long; at most {MEDIA_URL_LIMIT} are accepted",
            field=field,
        )
    bad = BAD_URL_CHAR.search(url)
    if bad is not None:
        raise CopyError(
            f"{what} contains a space or control character at position {bad.start() + 1}: "
            "encode spaces as %20",
            field=field,
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise CopyError(
            f"{what} is not a valid URL: check its host and port", field=field
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        accepted = " or ".join(f"{name}://" for name in schemes)
        raise CopyError(f"{what} must start with {accepted}", field=field)
    if not parts.netloc or (scheme != "tg" and not parts.hostname):
        example = "tg://resolve?domain=name" if scheme == "tg" else "https://example.com/file.jpg"
        raise CopyError(f"{what} has no host: write it like {example}", field=field)


def check_media_url(url: str) -> None:
    """Raise CopyError unless ``url`` is an http(s) link Telegram can fetch the media from."""
    _check_url(url, field="media_url", what="the media URL", schemes=("https", "http"))


def check_buttons(buttons: Any) -> None:
    """Raise CopyError unless ``buttons`` is rows of ``{"text", "url"}`` Telegram accepts."""
    if not isinstance(buttons, list | tuple):
        raise CopyError('buttons must be a list of rows of {"text", "url"}', field="buttons")
    total = 0
    for r, row in enumerate(buttons, 1):
        if not isinstance(row, list | tuple) or not row:
            raise CopyError(f"row {r} of buttons must be a non-empty list", field="buttons")
        if len(row) > ROW_BUTTONS_LIMIT:
            raise CopyError(
                f"row {r} has {len(row)} buttons; Telegram shows at most {ROW_BUTTONS_LIMIT} "
                "in a row: move some to another row",
                field="buttons",
            )
        total += len(row)
        for b, button in enumerate(row, 1):
            _check_button(button, f"button {b} of row {r}")
    if total > BUTTONS_LIMIT:
        raise CopyError(
            f"there are {total} buttons; Telegram accepts at most {BUTTONS_LIMIT} in a message",
            field="buttons",
        )


def _check_button(button: Any, where: str) -> None:
    if not isinstance(button, Mapping):
        raise CopyError(f'{where} must be {{"text": …, "url": …}}', field="buttons")
    unknown = set(button) - {"text", "url"}
    if unknown:
        raise CopyError(
            f"{where} has unsupported keys {sorted(map(str, unknown))}: only text and url",
            field="buttons",
        )
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise CopyError(f"{where} needs a text", field="buttons")
    if len(text) > BUTTON_TEXT_LIMIT:
        raise CopyError(
            f"the text of {where} is {len(text)} characters long; at most {BUTTON_TEXT_LIMIT}",
            field="buttons",
        )
    _check_url(
        button.get("url"),
        field="buttons",
        what=f"the url of {where}",
        schemes=("https", "http", "tg"),
    )


def buttons_markup(buttons: Any) -> dict[str, list[list[dict[str, str]]]] | None:
    """The ``reply_markup`` of an inline keyboard with link buttons; None when there are none."""
    if not buttons:
        return None
    check_buttons(buttons)
    return {
        "inline_keyboard": [
            [{"text": button["text"], "url": button["url"]} for button in row] for row in buttons
        ]
    }
