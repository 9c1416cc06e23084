"""Every simulated method is a Bot API 10.1 method: it reads only the fields Telegram documents
for it (and all the required ones), and answers with its documented return type.

The `methods` of `bot_api_types.json` are trimmed from the machine-readable Bot API 10.1
(`/work/shared/telegram/bot-api-10.1.json`): each method's fields (types, required) and returns.
"""

from __future__ import annotations

import inspect
import itertools
import json
from pathlib import Path
from typing import Any

from disparo.simulator.calls import Call, Described
from disparo.simulator.config import SimulatorConfig
from disparo.simulator.methods import METHODS
from disparo.simulator.world import World

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parent / "bot_api_types.json").read_text(encoding="utf-8")
)["methods"]
KEYBOARD = {"inline_keyboard": [[{"text": "Ver", "url": "https://example.com/p"}]]}

# one successful call of each method, in an order where the messages it names exist
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("getMe", {}),
    ("sendMessage", {"chat_id": 1, "text": "a", "reply_markup": KEYBOARD}),
    ("sendPhoto", {"chat_id": 1, "photo": "https://example.com/a.jpg", "caption": "c"}),
    ("sendVideo", {"chat_id": 1, "video": "https://example.com/a.mp4", "duration": 3}),
    ("sendAudio", {"chat_id": 1, "audio": "https://example.com/a.mp3", "title": "t"}),
    ("copyMessage", {"chat_id": 2, "from_chat_id": 1, "message_id": 1, "caption": "x"}),
    ("editMessageText", {"chat_id": 1, "message_id": 1, "text": "b", "parse_mode": "HTML"}),
    ("editMessageCaption", {"chat_id": 1, "message_id": 2, "caption": "d"}),
    ("editMessageReplyMarkup", {"chat_id": 1, "message_id": 3, "reply_markup": KEYBOARD}),
    ("deleteMessage", {"chat_id": 1, "message_id": 3}),
    ("deleteMessages", {"chat_id": 1, "message_ids": [4, 99]}),
    ("setWebhook", {"url": "https://example.com/hook"}),
    ("getWebhookInfo", {}),
    ("deleteWebhook", {}),
    ("getUpdates", {"timeout": 0}),
]


class RecordingParams(dict[str, Any]):
    """Request parameters that remember every name a method asked for."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)


def _kind(result: Any) -> str:
    """The Bot API type name a result has."""
    if result is True:
        return "Boolean"
    if isinstance(result, list):
        return "Array of Update"
    if "is_bot" in result:
        return "User"
    if "pending_update_count" in result:
        return "WebhookInfo"
    return "Message" if "chat" in result else "MessageId"


def test_every_simulated_method_is_documented():
    """Each method the simulator answers is a Bot API 10.1 method, and each is exercised here."""
    documented = {name.lower(): name for name in SPEC}
    assert set(METHODS) <= set(documented)
    assert {documented[name] for name in METHODS} == {name for name, _ in CALLS}


async def test_methods_read_documented_fields_and_return_documented_types():
    """Every parameter a method reads is a documented field of it, required ones included,
    and the result is of the method's documented return type."""
    ticks = itertools.count(step=10)  # far enough apart that no flood limit applies
    world = World(SimulatorConfig(), clock=lambda: float(next(ticks)))
    bot = world.bot("123456789:TTHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1")
    assert bot is not None
    problems = []
    for name, values in CALLS:
        params = RecordingParams(values)
        result = METHODS[name.lower()](Call(world, bot, params))
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, Described):
            result = result.result
        fields = SPEC[name]["fields"]
        problems += [f"{name} reads {field}" for field in sorted(params.read - set(fields))]
        required = {field for field, spec in fields.items() if spec["required"]}
        problems += [f"{name} ignores required {field}" for field in required - params.read]
        if _kind(result) not in SPEC[name]["returns"]:
            problems.append(f"{name} returns {_kind(result)}, not {SPEC[name]['returns']}")
    await world.close()
    assert problems == []
