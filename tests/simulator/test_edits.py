"""deleteMessage(s) and the editMessage* methods: Telegram's rules, its error texts, what the
control API shows afterwards, and the flood limits and faults they share with sends."""

from __future__ import annotations

import aiohttp
import pytest

KEYBOARD = {"inline_keyboard": [[{"text": "Comprar", "url": "https://example.com/p"}]]}
OTHER_KEYBOARD = {"inline_keyboard": [[{"text": "Ver", "callback_data": "ver"}]]}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
PHOTO = "https://cdn.example.com/promo.jpg"


@pytest.fixture
async def roomy(sim, token):
    """The simulator with a per-chat burst that many calls in one chat fit in."""
    await sim.control(f"bots/{token}/limits", {"per_chat_burst": 100})
    return sim


async def _sent(sim, method: str = "sendMessage", **params) -> dict:
    status, body = await sim.call(method, json={"chat_id": 1, **params})
    assert status == 200, body
    return {"chat_id": body["result"]["chat"]["id"], "message_id": body["result"]["message_id"]}


async def _refused(sim, method: str, **params) -> tuple[int, str]:
    status, body = await sim.call(method, json=params)
    assert body["ok"] is False
    return status, body["description"]


async def _view(sim, target: dict) -> dict:
    messages = await sim.messages(target["chat_id"])
    return next(m for m in messages if m["message_id"] == target["message_id"])


async def _stats(sim, token: str) -> dict:
    return (await sim.control("stats", method="GET"))["bots"][token.split(":")[0]]


# deleteMessage -----------------------------------------------------------------------------


async def test_delete_message_once_then_not_found(roomy, token):
    """deleteMessage answers true once, the message stays listed as deleted, then not found."""
    target = await _sent(roomy, text="apagar")
    assert await roomy.call("deleteMessage", json=target) == (200, {"ok": True, "result": True})
    assert (await _view(roomy, target))["deleted"] is True
    assert await _refused(roomy, "deleteMessage", **target) == (
        400,
        "Bad Request: message to delete not found",
    )
    assert (await _stats(roomy, token))["deleted"] == 1


async def test_delete_message_refusals(start_simulator, token):
    """Unknown message, unknown chat and missing parameters answer the Bot API's sentences."""
    sim = await start_simulator(strict_users=True)
    await sim.users({"id": 1})
    await _sent(sim, text="oi")
    assert await _refused(sim, "deleteMessage", chat_id=1, message_id=99) == (
        400,
        "Bad Request: message to delete not found",
    )
    assert await _refused(sim, "deleteMessage", chat_id=5, message_id=1) == (
        400,
        "Bad Request: chat not found",
    )
    assert await _refused(sim, "deleteMessage", message_id=1) == (
        400,
        "Bad Request: chat identifier is not specified",
    )
    for message_id in (None, 0, -3):
        assert await _refused(sim, "deleteMessage", chat_id=1, message_id=message_id) == (
            400,
            "Bad Request: message identifier is not specified",
        )
    assert len(await sim.messages(1)) == 1


async def test_delete_and_edit_for_deactivated_and_blocked_users(roomy, token):
    """A deleted account is 403 user is deactivated; a user who blocked the bot is no obstacle
    (the Bot API checks only deleted accounts before an edit or a delete)."""
    first = await _sent(roomy, text="um")
    second = await _sent(roomy, text="dois")
    await roomy.users({"id": 1, "state": "deactivated"})
    assert await _refused(roomy, "deleteMessage", **first) == (
        403,
        "Forbidden: user is deactivated",
    )
    assert await _refused(roomy, "editMessageText", **first, text="x") == (
        403,
        "Forbidden: user is deactivated",
    )
    await roomy.users({"id": 1, "state": "blocked"})
    status, edited = await roomy.call("editMessageText", json={**first, "text": "x"})
    assert (status, edited["result"]["text"]) == (200, "x")
    assert await roomy.call("deleteMessage", json=second) == (200, {"ok": True, "result": True})
    await roomy.users({"id": 1, "state": "missing"})
    assert await _refused(roomy, "deleteMessage", **first) == (400, "Bad Request: chat not found")


async def test_a_message_older_than_48_hours_cannot_be_deleted(roomy, token):
    """After 48 hours a bot's message answers message can't be deleted for everyone; until
    then it is deleted. Aging moves the message's date back."""
    old = await _sent(roomy, text="velha")
    recent = await _sent(roomy, text="recente")
    date = (await _view(roomy, old))["date"]
    aged = await roomy.control(f"bots/{token}/messages/age", {"hours": 48.01, **_one(old)})
    assert aged == {"aged": 1}
    assert (await _view(roomy, old))["date"] <= date - 48 * 3600
    assert await _refused(roomy, "deleteMessage", **old) == (
        400,
        "Bad Request: message can't be deleted for everyone",
    )
    assert (await _view(roomy, old))["deleted"] is False
    await roomy.control(f"bots/{token}/messages/age", {"hours": 47.9, "chat_id": 1})
    assert await roomy.call("deleteMessage", json=recent) == (200, {"ok": True, "result": True})
    status, edited = await roomy.call("editMessageText", json={**old, "text": "editada"})
    assert status == 200  # a bot edits its own messages with no time limit
    assert edited["result"]["date"] <= date - 48 * 3600


def _one(target: dict) -> dict:
    return {"chat_id": target["chat_id"], "message_ids": [target["message_id"]]}


async def test_aging_every_message_and_its_validation(sim, token):
    """Without a chat every message of the bot ages; bad bodies name what is wrong."""
    await _sent(sim, text="oi")
    await sim.send(2)
    assert await sim.control(f"bots/{token}/messages/age", {"hours": 1}) == {"aged": 2}
    for body in ({"hours": -1}, {"hours": 1, "message_ids": [1]}, {"days": 2}):
        async with sim.session.post(
            f"{sim.base_url}/sim/bots/{token}/messages/age", json=body
        ) as response:
            assert response.status == 400


# deleteMessages ----------------------------------------------------------------------------


async def test_delete_messages_skips_missing_and_refuses_all_when_one_is_too_old(roomy, token):
    """deleteMessages deletes those found and skips the others; one message too old to delete
    refuses the whole call and deletes nothing."""
    targets = [await _sent(roomy, text=str(n)) for n in range(4)]
    ids = [t["message_id"] for t in targets]
    ok = await roomy.call("deleteMessages", json={"chat_id": 1, "message_ids": [ids[0], 99]})
    assert ok == (200, {"ok": True, "result": True})
    await roomy.control(f"bots/{token}/messages/age", {"hours": 49, **_one(targets[3])})
    assert await _refused(roomy, "deleteMessages", chat_id=1, message_ids=ids[1:]) == (
        400,
        "Bad Request: message can't be deleted for everyone",
    )
    deleted = [m["deleted"] for m in await roomy.messages(1)]
    assert deleted == [True, False, False, False]
    status, _ = await roomy.call(
        "deleteMessages", data={"chat_id": "1", "message_ids": f"[{ids[1]}, {ids[2]}]"}
    )
    assert status == 200
    assert (await _stats(roomy, token))["deleted"] == 3


@pytest.mark.parametrize(
    ("message_ids", "description"),
    [
        (None, "message identifiers are not specified"),
        ([], "message identifiers are not specified"),
        ("[1,", "can't parse message_ids JSON object"),
        ({"id": 1}, "expected an Array of message identifiers"),
        (list(range(1, 102)), "too many message identifiers specified"),
        ([1, None], "message identifier must be a Number"),
        (["x"], "can't parse message identifier as a Number"),
        ([1, 0], "invalid message identifier specified"),
    ],
)
async def test_delete_messages_checks_its_identifiers(sim, message_ids, description):
    """message_ids is 1 to 100 positive numbers, refused with the Bot API's sentences."""
    body = {"chat_id": 1} if message_ids is None else {"chat_id": 1, "message_ids": message_ids}
    assert await _refused(sim, "deleteMessages", **body) == (400, "Bad Request: " + description)


# editMessageText ---------------------------------------------------------------------------


async def test_edit_message_text_changes_the_message_and_the_control_view(roomy, token):
    """The edited Message carries the new text, entities, keyboard and edit_date; the control
    API shows the same, and a second identical edit is not modified."""
    target = await _sent(roomy, text="preço: 10", reply_markup=KEYBOARD)
    edit = {**target, "text": "<b>preço</b>: 9", "parse_mode": "HTML", "reply_markup": KEYBOARD}
    status, body = await roomy.call("editMessageText", json=edit)
    assert status == 200
    message = body["result"]
    assert (message["text"], message["reply_markup"]) == ("preço: 9", KEYBOARD)
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 5}]
    assert message["edit_date"] >= message["date"]
    view = await _view(roomy, target)
    assert (view["text"], view["edited"], view["edit_date"]) == (
        "preço: 9",
        True,
        message["edit_date"],
    )
    assert view["entities"] == message["entities"]
    assert await _refused(roomy, "editMessageText", **edit) == (400, NOT_MODIFIED)
    assert (await _stats(roomy, token))["edited"] == 1


async def test_an_edit_without_reply_markup_removes_the_keyboard(roomy):
    """Same text without reply_markup is a change: Telegram drops the keyboard."""
    target = await _sent(roomy, text="oferta", reply_markup=KEYBOARD)
    status, body = await roomy.call("editMessageText", json={**target, "text": "oferta"})
    assert status == 200
    assert "reply_markup" not in body["result"]
    assert (await _view(roomy, target))["reply_markup"] is None


async def test_edit_message_text_refusals(roomy):
    """Media, unknown and deleted messages, and text refused as sendMessage refuses it."""
    text = await _sent(roomy, text="texto")
    photo = await _sent(roomy, "sendPhoto", photo=PHOTO, caption="foto")
    assert await _refused(roomy, "editMessageText", **photo, text="x") == (
        400,
        "Bad Request: there is no text in the message to edit",
    )
    assert await _refused(roomy, "editMessageText", chat_id=1, message_id=99, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    assert await _refused(roomy, "editMessageText", chat_id=1, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    for bad in ({"text": "  "}, {"text": "x" * 4097}, {"text": "<b>x", "parse_mode": "HTML"}):
        _, sent = await roomy.call("sendMessage", json={"chat_id": 1, **bad})
        assert await _refused(roomy, "editMessageText", **text, **bad) == (
            400,
            sent["description"],
        )
    await roomy.call("deleteMessage", json=text)
    assert await _refused(roomy, "editMessageText", **text, text="y") == (
        400,
        "Bad Request: message to edit not found",
    )


async def test_inline_messages_and_missing_identifiers(sim):
    """The simulator sends no inline messages: every inline_message_id is invalid."""
    assert await _refused(sim, "editMessageText", inline_message_id="AAEAAA", text="x") == (
        400,
        "Bad Request: invalid inline message identifier specified",
    )
    assert await _refused(sim, "editMessageReplyMarkup", inline_message_id="AAEAAA") == (
        400,
        "Bad Request: invalid inline message identifier specified",
    )
    assert await _refused(sim, "editMessageCaption", caption="x") == (
        400,
        "Bad Request: message identifier is not specified",
    )
    assert await _refused(sim, "editMessageText", message_id=1, text="x") == (
        400,
        "Bad Request: chat_id is empty",
    )


# editMessageCaption ------------------------------------------------------------------------


async def test_edit_message_caption_keeps_the_media(roomy):
    """A new caption over the same photo; above the media on request; none removes it."""
    target = await _sent(roomy, "sendPhoto", photo=PHOTO, caption="a")
    _, sent = await roomy.call("sendPhoto", json={"chat_id": 9, "photo": PHOTO})
    above = {"caption": "<i>b</i>", "parse_mode": "HTML", "show_caption_above_media": True}
    status, body = await roomy.call("editMessageCaption", json={**target, **above})
    assert status == 200
    message = body["result"]
    assert (message["caption"], message["show_caption_above_media"]) == ("b", True)
    assert message["caption_entities"] == [{"type": "italic", "offset": 0, "length": 1}]
    assert message["photo"] == sent["result"]["photo"]
    assert (await _view(roomy, target))["caption"] == "b"
    status, body = await roomy.call("editMessageCaption", json=target)
    assert status == 200
    assert "caption" not in body["result"]
    assert await _refused(roomy, "editMessageCaption", **target) == (400, NOT_MODIFIED)


async def test_edit_message_caption_refusals(roomy):
    """A text message has no caption; a caption over 1024 characters is too long."""
    text = await _sent(roomy, text="texto")
    audio = await _sent(roomy, "sendAudio", audio="https://cdn.example.com/a.mp3")
    assert await _refused(roomy, "editMessageCaption", **text, caption="x") == (
        400,
        "Bad Request: there is no caption in the message to edit",
    )
    assert await _refused(roomy, "editMessageCaption", **audio, caption="x" * 1025) == (
        400,
        "Bad Request: message caption is too long",
    )
    longest = {"caption": "x" * 1024, "show_caption_above_media": True}
    status, body = await roomy.call("editMessageCaption", json={**audio, **longest})
    assert status == 200
    assert "show_caption_above_media" not in body["result"]  # only photos and videos


# editMessageReplyMarkup --------------------------------------------------------------------


async def test_edit_message_reply_markup_on_any_message(roomy):
    """The keyboard of a text or a media message changes, goes, and an identical one is not
    modified; a reply keyboard is refused."""
    video = await _sent(roomy, "sendVideo", video="https://cdn.example.com/v.mp4", caption="c")
    edit = {**video, "reply_markup": OTHER_KEYBOARD}
    status, body = await roomy.call("editMessageReplyMarkup", json=edit)
    assert (status, body["result"]["reply_markup"]) == (200, OTHER_KEYBOARD)
    assert body["result"]["caption"] == "c"
    assert (await _view(roomy, video))["reply_markup"] == OTHER_KEYBOARD
    assert await _refused(roomy, "editMessageReplyMarkup", **edit) == (400, NOT_MODIFIED)
    status, body = await roomy.call("editMessageReplyMarkup", json=video)
    assert (status, "reply_markup" in body["result"]) == (200, False)
    assert await _refused(roomy, "editMessageReplyMarkup", **video) == (400, NOT_MODIFIED)
    keyboard = {"keyboard": [[{"text": "Sim"}]]}
    assert await _refused(roomy, "editMessageReplyMarkup", **video, reply_markup=keyboard) == (
        400,
        "Bad Request: inline keyboard expected",
    )


# limits and faults -------------------------------------------------------------------------


async def test_edits_and_deletes_count_against_the_bots_flood_limits(sim, token):
    """Edits and deletes share the per-bot second with sends; a refused edit counts nothing."""
    await sim.control(f"bots/{token}/limits", {"per_second": 3})
    targets = [await _sent(sim, chat_id=n, text="a") for n in (1, 2)]
    await sim.call("editMessageText", json={**targets[0], "text": "a"})  # not modified
    assert (await sim.call("editMessageText", json={**targets[0], "text": "b"}))[0] == 200
    status, body = await sim.call("deleteMessage", json=targets[1])
    assert (status, body["parameters"]["retry_after"]) == (429, 1)
    assert (await sim.send(3))[0] == 429
    assert (await _view(sim, targets[1]))["deleted"] is False


async def test_edits_count_against_the_per_chat_burst(sim):
    """Three calls in one chat spend the default burst; the fourth waits."""
    target = await _sent(sim, text="0")
    for n in (1, 2):
        assert (await sim.call("editMessageText", json={**target, "text": str(n)}))[0] == 200
    status, _ = await sim.call("editMessageText", json={**target, "text": "3"})
    assert status == 429
    assert (await _view(sim, target))["text"] == "2"


async def test_faults_apply_to_edits_and_deletes(sim, token):
    """A 5xx changes nothing; drop_delivered applies the edit and never answers; a storm is
    429 for deletes and edits alike."""
    await sim.control(f"bots/{token}/limits", {"per_chat_burst": 100})
    target = await _sent(sim, text="antes")
    await sim.control("faults", {"error_5xx": 1.0})
    assert (await sim.call("deleteMessage", json=target))[0] in (500, 502)
    assert (await _view(sim, target))["deleted"] is False
    await sim.control("faults", {"drop_delivered": 1.0})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await sim.call("editMessageText", json={**target, "text": "depois"})
    assert (await _view(sim, target))["text"] == "depois"
    await sim.control("faults", {"retry_after_storm": {"bot": token, "seconds": 30}})
    for method, extra in (("deleteMessage", {}), ("editMessageText", {"text": "outra"})):
        status, body = await sim.call(method, json={**target, **extra})
        assert (status, body["description"]) == (429, "Too Many Requests: retry after 30")
    assert (await _view(sim, target))["deleted"] is False
