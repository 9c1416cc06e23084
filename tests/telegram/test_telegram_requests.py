"""The JSON each helper sends: exactly the expected fields, all of them accepted by the method."""

from __future__ import annotations

import json
import runpy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram_fake import TOKEN, FakeTelegram

from disparo.telegram import Bot, BotAPI
from disparo.telegram.bot import HELPER_METHODS

REPO = Path(__file__).resolve().parents[2]
FULL_SPEC = REPO.parent / "shared" / "telegram" / "bot-api-10.1.json"
EXTRACT = Path(__file__).with_name("bot_api_methods.json")
SCRIPT = REPO / "scripts" / "extract_bot_api.py"

KEYBOARD = {"inline_keyboard": [[{"text": "Open", "url": "https://example.com"}]]}
PHOTO = "https://example.com/p.jpg"

Call = Callable[[Bot], Awaitable[Any]]

# (method, the helper call with every optional argument, the fields it must send)
FULL_CALLS: list[tuple[str, Call, set[str]]] = [
    ("getMe", lambda b: b.get_me(), set()),
    (
        "sendMessage",
        lambda b: b.send_message(
            42,
            "<b>hi</b>",
            link_preview_options={"is_disabled": True},
            reply_markup=KEYBOARD,
            allow_paid_broadcast=True,
            protect_content=True,
        ),
        {"chat_id", "text", "parse_mode", "link_preview_options", "reply_markup"}
        | {"allow_paid_broadcast", "protect_content"},
    ),
    *[
        (
            method,
            lambda b, helper=helper: getattr(b, helper)(
                42, PHOTO, caption="c", reply_markup=KEYBOARD, allow_paid_broadcast=True
            ),
            {"chat_id", field, "caption", "parse_mode", "reply_markup", "allow_paid_broadcast"},
        )
        for method, helper, field in [
            ("sendPhoto", "send_photo", "photo"),
            ("sendVideo", "send_video", "video"),
            ("sendAudio", "send_audio", "audio"),
        ]
    ],
    (
        "copyMessage",
        lambda b: b.copy_message(
            42, 7, 99, caption="c", reply_markup=KEYBOARD, allow_paid_broadcast=False
        ),
        {"chat_id", "from_chat_id", "message_id", "caption", "parse_mode", "reply_markup"}
        | {"allow_paid_broadcast"},
    ),
    ("deleteMessage", lambda b: b.delete_message(42, 99), {"chat_id", "message_id"}),
    (
        "editMessageText",
        lambda b: b.edit_message_text(
            42, 99, "t", link_preview_options={"is_disabled": True}, reply_markup=KEYBOARD
        ),
        {"chat_id", "message_id", "text", "parse_mode", "link_preview_options", "reply_markup"},
    ),
    (
        "editMessageCaption",
        lambda b: b.edit_message_caption(42, 99, "c", reply_markup=KEYBOARD),
        {"chat_id", "message_id", "caption", "parse_mode", "reply_markup"},
    ),
    (
        "setWebhook",
        lambda b: b.set_webhook(
            "https://example.com/hook",
            secret_token="s3cret",
            allowed_updates=["message", "my_chat_member"],
            drop_pending_updates=True,
        ),
        {"url", "secret_token", "allowed_updates", "drop_pending_updates"},
    ),
    (
        "deleteWebhook",
        lambda b: b.delete_webhook(drop_pending_updates=True),
        {"drop_pending_updates"},
    ),
    (
        "getUpdates",
        lambda b: b.get_updates(offset=5, timeout=0, limit=10, allowed_updates=["message"]),
        {"offset", "timeout", "limit", "allowed_updates"},
    ),
]

# The same helpers with only their required arguments: None parameters are left out.
MINIMAL_CALLS: list[tuple[str, Call, set[str]]] = [
    ("sendMessage", lambda b: b.send_message(42, "hi"), {"chat_id", "text", "parse_mode"}),
    ("sendMessage", lambda b: b.send_message(42, "hi", parse_mode=None), {"chat_id", "text"}),
    ("sendPhoto", lambda b: b.send_photo(42, PHOTO), {"chat_id", "photo"}),
    ("sendVideo", lambda b: b.send_video(42, PHOTO, reply_markup=None), {"chat_id", "video"}),
    ("sendAudio", lambda b: b.send_audio(42, PHOTO), {"chat_id", "audio"}),
    ("copyMessage", lambda b: b.copy_message(42, 7, 99), {"chat_id", "from_chat_id", "message_id"}),
    ("setWebhook", lambda b: b.set_webhook("https://example.com/hook"), {"url"}),
    ("deleteWebhook", lambda b: b.delete_webhook(), set()),
    ("getUpdates", lambda b: b.get_updates(), {"timeout"}),
]


def _load_methods() -> dict[str, dict[str, bool]]:
    """Each method's fields and whether required: the full spec if present, else the extract."""
    if FULL_SPEC.exists():
        spec = json.loads(FULL_SPEC.read_text(encoding="utf-8"))
        return {
            name: {f["name"]: f["required"] for f in method.get("fields", [])}
            for name, method in spec["methods"].items()
        }
    extract = json.loads(EXTRACT.read_text(encoding="utf-8"))
    return {
        name: {field: value["required"] for field, value in method["fields"].items()}
        for name, method in extract["methods"].items()
    }


METHODS = _load_methods()


def _check_fields(method: str, sent: dict[str, Any]) -> None:
    accepted = METHODS[method]
    unknown = set(sent) - set(accepted)
    assert not unknown, f"{method} does not accept {sorted(unknown)}"
    missing = {name for name, required in accepted.items() if required} - set(sent)
    assert not missing, f"{method} requires {sorted(missing)}"


@pytest.mark.parametrize(("method", "call", "expected"), FULL_CALLS + MINIMAL_CALLS)
async def test_helper_sends_exactly_the_accepted_fields(
    bot: Bot, fake_telegram: FakeTelegram, method: str, call: Call, expected: set[str]
) -> None:
    """Each helper posts JSON to its method with exactly the expected, spec-accepted fields."""
    await call(bot)
    [request] = fake_telegram.requests
    assert request.method == method
    assert request.token == TOKEN
    assert request.content_type == "application/json"
    assert set(request.params) == expected
    assert None not in request.params.values()
    _check_fields(method, request.params)


def test_every_helper_is_covered() -> None:
    """The field test exercises every method the helpers call."""
    assert {method for method, _, _ in FULL_CALLS} == set(HELPER_METHODS)


async def test_link_previews_are_disabled_the_current_way(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    """No disable_web_page_preview: previews are turned off by link_preview_options."""
    await bot.send_message(1, "https://example.com", link_preview_options={"is_disabled": True})
    params = fake_telegram.requests[0].params
    assert params["link_preview_options"] == {"is_disabled": True}
    assert "disable_web_page_preview" not in METHODS["sendMessage"]


def test_extract_matches_the_spec_and_covers_the_helpers() -> None:
    """The committed extract is what the script produces, and lists every helper's method."""
    extract = json.loads(EXTRACT.read_text(encoding="utf-8"))
    assert set(extract["methods"]) == set(HELPER_METHODS)
    if FULL_SPEC.exists():
        script = runpy.run_path(str(SCRIPT))
        spec = json.loads(FULL_SPEC.read_text(encoding="utf-8"))
        fresh = script["extract"](spec, HELPER_METHODS)
        assert extract == fresh
        assert script["render"](fresh) == EXTRACT.read_text(encoding="utf-8")


async def test_results_are_the_decoded_json(bot: Bot) -> None:
    """Helpers return Telegram's result objects as plain dicts."""
    me = await bot.get_me()
    assert me["username"] == "test_bot"
    message = await bot.send_message(42, "hi")
    assert message["message_id"] == 2
    assert await bot.delete_message(42, message["message_id"]) is True
    assert await bot.get_updates() == []


async def test_call_sends_params_as_given(bot: Bot, fake_telegram: FakeTelegram) -> None:
    """The raw call posts any method with the given params and returns the result."""
    result = await bot.call("sendChatAction", {"chat_id": 1, "action": "typing"})
    assert result == {"message_id": 1, "date": 1_700_000_000, "chat": {"id": 42}}
    assert fake_telegram.requests[0].params == {"chat_id": 1, "action": "typing"}


async def test_long_poll_outlasts_the_request_timeout(fake_telegram: FakeTelegram) -> None:
    """getUpdates waits longer than the default request timeout, by its own timeout."""
    fake_telegram.delay("getUpdates", 0.5)
    async with BotAPI(fake_telegram.base_url, timeout_s=0.2, connect_timeout_s=0.1) as api:
        assert await api.bot(TOKEN).get_updates(timeout=2) == []


def test_bad_tokens_and_base_urls_are_refused() -> None:
    """A malformed token or base URL fails at once, without echoing the token."""
    api = BotAPI()
    for token in ["", "123456", "abc:def", "123456:has space", f"{TOKEN}\n"]:
        with pytest.raises(ValueError, match="must look like") as info:
            api.bot(token)
        assert not token or token not in str(info.value)
    for base_url in ["ftp://example.com", "example.com", "http://user:pw@example.com"]:
        with pytest.raises(ValueError, match="base_url"):
            BotAPI(base_url)


async def test_calls_need_a_started_client() -> None:
    """Calling before start() (or after aclose()) says how to start the client."""
    api = BotAPI("http://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="not started"):
        await api.bot(TOKEN).get_me()
    await api.start()
    await api.aclose()
    await api.aclose()
    with pytest.raises(RuntimeError, match="not started"):
        await api.bot(TOKEN).get_me()


async def test_method_names_are_checked(bot: Bot) -> None:
    """A method name that is not a Bot API identifier is refused before any request."""
    with pytest.raises(ValueError, match="not a Bot API method name"):
        await bot.call("../getMe", {})
