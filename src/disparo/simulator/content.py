"""What Telegram refuses in a message before sending it: text, caption, media and buttons.

Each check raises the 400 the Bot API answers, with its wording; lengths are counted in UTF-16
code units after entity parsing, as Telegram counts them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from disparo.simulator.bodies import Params, UploadedFile, get_json, get_str
from disparo.simulator.errors import bad_request
from disparo.simulator.formatted import fix_text, is_blank
from disparo.simulator.html import HtmlError, parse_html, utf16_len

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT_BYTES = 64

_FILE_ID = re.compile(r"[A-Za-z0-9_-]{20,}")
_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip
_BUTTON_SCHEMES = frozenset({"http", "https", "tg"})


def formatted_text(
    params: Params, field: str, entities_field: str
) -> tuple[str | None, list[dict[str, Any]]]:
    """`field` after `parse_mode` (HTML validated like Telegram), cleaned and trimmed like
    Telegram does (`fix_text`), with its entities."""
    raw = get_str(params, field)
    if raw is None:
        return None, []
    mode = (get_str(params, "parse_mode") or "").lower()
    entities: list[dict[str, Any]] = []
    if mode == "html":
        try:
            raw, entities = parse_html(raw)
        except HtmlError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    elif mode == "":
        given = get_json(params, entities_field, f"can't parse {entities_field} JSON object")
        if isinstance(given, list):
            entities = [e for e in given if isinstance(e, dict)]
    elif mode not in ("markdown", "markdownv2"):
        raise bad_request("unsupported parse_mode")
    return fix_text(raw, entities)


def check_text(text: str | None) -> str:
    """A message text: present, not blank, at most 4096 UTF-16 units."""
    if text is None or is_blank(text):
        raise bad_request("message text is empty")
    if len(text) > TEXT_LIMIT // 2 and utf16_len(text) > TEXT_LIMIT:
        raise bad_request("message is too long")
    return text


def check_caption(caption: str | None) -> None:
    """A caption: at most 1024 UTF-16 units."""
    if caption and len(caption) > CAPTION_LIMIT // 2 and utf16_len(caption) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")


def media_source(params: Params, kind: str) -> str:
    """Where a photo, video or audio comes from: an http(s) URL, a file_id, or an upload."""
    value = params.get(kind)
    if value is None or value == "":
        raise bad_request(f"there is no {kind} in the request")
    if isinstance(value, UploadedFile):
        return "upload:" + value.filename
    if not isinstance(value, str):
        raise bad_request("wrong HTTP URL specified")
    value = value.strip()
    if value.startswith("attach://"):
        attached = params.get(value[9:])
        if isinstance(attached, UploadedFile):
            return "upload:" + attached.filename
        raise bad_request("wrong file identifier/HTTP URL specified")
    if value[:8].lower().startswith(("http://", "https://")):
        try:
            host = urlsplit(value).hostname
        except ValueError:
            host = None
        if not host:
            raise bad_request("wrong HTTP URL specified")
        return value
    if _FILE_ID.fullmatch(value) is None:
        raise bad_request("wrong HTTP URL specified")
    return value


def check_fetchable(source: str) -> None:
    """Telegram fetches a URL when sending; a host that cannot exist fails then."""
    if source[:8].lower().startswith(("http://", "https://")):
        host = (urlsplit(source).hostname or "").rstrip(".")
        if host == "invalid" or host.endswith(".invalid"):
            raise bad_request("wrong file identifier/HTTP URL specified")


def reply_markup(params: Params) -> dict[str, Any] | None:
    """The validated reply markup; returns the inline keyboard to echo in the Message."""
    markup = get_json(params, "reply_markup", "can't parse reply keyboard markup JSON object")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        keyboard = markup.get("keyboard")
        if keyboard is not None and not _is_rows(keyboard):
            raise bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
            )
        return None  # reply keyboards are not part of the returned Message
    rows = markup["inline_keyboard"]
    if not _is_rows(rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            check_button(button)
    return {"inline_keyboard": rows}


def inline_reply_markup(params: Params) -> dict[str, Any] | None:
    """The markup of an edit: an inline keyboard or none; any other keyboard is refused."""
    markup = reply_markup(params)
    if markup is None and get_json(params, "reply_markup", "") is not None:
        raise bad_request("inline keyboard expected")
    return markup


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(row, list) for row in value)


def check_button(button: Any) -> None:
    """One InlineKeyboardButton, refused with the Bot API's words."""
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton should be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not text.strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    if not any(action in button for action in _BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "url" in button and not button_url_ok(button["url"]):
        raise bad_request("BUTTON_URL_INVALID")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")


def button_url_ok(url: Any) -> bool:
    """A button URL Telegram accepts: http, https or tg, with somewhere to go."""
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme not in _BUTTON_SCHEMES:
        return False
    if scheme == "tg":
        return bool(parts.netloc or parts.path)
    return bool(parts.hostname)
