"""Answers have the documented shape: every key a field of its Bot API 10.1 type, none missing.

`bot_api_types.json` is a trimmed snapshot (field names, first type, required) of the types the
simulator returns, taken from the machine-readable Bot API 10.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TYPES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "bot_api_types.json").read_text(encoding="utf-8")
)["types"]


def _problems(value: Any, type_name: str, path: str) -> list[str]:
    spec = TYPES[type_name]
    if "fields" not in spec:  # a union such as ChatMember: the status picks the subtype
        match = [sub for sub in spec["subtypes"] if TYPES[sub]["status"] == value.get("status")]
        return _problems(value, match[0], path) if match else [f"{path}: no {type_name}"]
    fields = spec["fields"]
    found = [f"{path}.{name}: not a field of {type_name}" for name in value if name not in fields]
    found += [
        f"{path}.{name}: required by {type_name}"
        for name, field in fields.items()
        if field["required"] and name not in value
    ]
    for name, item in value.items():
        kind = fields.get(name, {}).get("type", "")
        if kind.startswith("Array of Array of ") and kind[18:] in TYPES:
            for i, row in enumerate(item):
                for j, cell in enumerate(row):
                    found += _problems(cell, kind[18:], f"{path}.{name}[{i}][{j}]")
        elif kind.startswith("Array of ") and kind[9:] in TYPES:
            for i, element in enumerate(item):
                found += _problems(element, kind[9:], f"{path}.{name}[{i}]")
        elif kind in TYPES:
            found += _problems(item, kind, f"{path}.{name}")
    return found


async def _result(sim, method: str, **params: Any) -> Any:
    status, body = await sim.call(method, json=params)
    assert status == 200, body
    return body["result"]


async def test_messages_and_users_have_documented_fields(sim):
    """getMe, sendMessage/Photo/Video/Audio, copyMessage and the three edits answer documented
    objects."""
    markup = {
        "inline_keyboard": [
            [{"text": "a", "url": "https://e.com"}, {"text": "b", "callback_data": "x"}]
        ]
    }
    html = (
        '<b>x</b> <a href="https://e.com">l</a> <pre><code class="language-py">c</code></pre> '
        "<blockquote expandable>q</blockquote> <tg-spoiler>s</tg-spoiler>"
    )
    answers = [
        ("User", await _result(sim, "getMe")),
        (
            "Message",
            await _result(
                sim, "sendMessage", chat_id=1, text=html, parse_mode="HTML", reply_markup=markup
            ),
        ),
        (
            "Message",
            await _result(sim, "sendPhoto", chat_id=2, photo="https://e.com/a.jpg", caption="c"),
        ),
        ("Message", await _result(sim, "sendVideo", chat_id=3, video="https://e.com/a.mp4")),
        (
            "Message",
            await _result(sim, "sendAudio", chat_id=4, audio="https://e.com/a.mp3", title="t"),
        ),
        ("MessageId", await _result(sim, "copyMessage", chat_id=5, from_chat_id=1, message_id=1)),
        ("Message", await _result(sim, "editMessageText", chat_id=1, message_id=1, text="y")),
        (
            "Message",
            await _result(
                sim,
                "editMessageCaption",
                chat_id=2,
                message_id=1,
                caption="<b>d</b>",
                parse_mode="HTML",
                show_caption_above_media=True,
            ),
        ),
        (
            "Message",
            await _result(
                sim, "editMessageReplyMarkup", chat_id=3, message_id=1, reply_markup=markup
            ),
        ),
        ("WebhookInfo", await _result(sim, "getWebhookInfo")),
    ]
    problems = [p for kind, answer in answers for p in _problems(answer, kind, kind)]
    assert problems == []


async def test_updates_have_documented_fields(sim, token):
    """/start, block and unblock updates are documented Update objects."""
    await sim.users({"id": 9, "first_name": "Ana", "last_name": "Lima", "username": "ana"})
    await sim.control(f"bots/{token}/updates", {"start": [9], "block": [9], "unblock": [9]})
    updates = await _result(sim, "getUpdates")
    assert len(updates) == 3
    problems = [p for update in updates for p in _problems(update, "Update", "Update")]
    assert problems == []
