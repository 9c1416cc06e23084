"""Contact ingestion from Telegram updates: the webhook route, its secret, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import SECRET_KEY, Client
from sqlalchemy import delete, insert, select
from sqlalchemy import update as sql_update

from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.db.tables import bots, processed_updates, shots_queue, shots_sent, telegram_contacts
from disparo.db.tables_campaign import shot_responses
from disparo.ingest.updates import ContactChange, contact_event, is_start_command

WEBHOOK = "/telegram/loja/webhook"
ANA = {
    "id": 42,
    "is_bot": False,
    "first_name": "Ana",
    "last_name": "Souza",
    "username": "anasouza",
    "language_code": "pt-br",
}
CHAT = {"id": 42, "first_name": "Ana", "last_name": "Souza", "username": "anasouza"} | {
    "type": "private"
}
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Loja", "username": "loja_bot"}


def start_update(update_id: int, user: dict[str, Any] = ANA) -> dict[str, Any]:
    """A real /start message update."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": user,
            "chat": CHAT | {"id": user["id"]},
            "date": 1764460800,
            "text": "/start promo",
            "entities": [{"offset": 0, "length": 6, "type": "bot_command"}],
        },
    }


EDITED = {
    "update_id": 20,
    "edited_message": {
        "message_id": 2,
        "from": ANA,
        "chat": CHAT,
        "date": 1764460900,
        "edit_date": 1764460950,
        "text": "quero o pix",
    },
}
CALLBACK = {
    "update_id": 30,
    "callback_query": {
        "id": "4382bfdwdsb323b2d9",
        "from": ANA,
        "message": {
            "message_id": 3,
            "from": BOT_USER,
            "chat": CHAT,
            "date": 1764461000,
            "text": "Escolha um plano",
        },
        "chat_instance": "-8394623948237",
        "data": "plano_mensal",
    },
}


def member_update(update_id: int, old: str, new: str) -> dict[str, Any]:
    """A real my_chat_member update of a private chat (block: kicked, unblock: member)."""
    return {
        "update_id": update_id,
        "my_chat_member": {
            "chat": CHAT,
            "from": ANA,
            "date": 1764461100,
            "old_chat_member": {"user": BOT_USER, "status": old},
            "new_chat_member": {"user": BOT_USER, "status": new}
            | ({"until_date": 0} if new == "kicked" else {}),
        },
    }


GROUP_MESSAGE = {
    "update_id": 50,
    "message": {
        "message_id": 9,
        "from": ANA | {"id": 55},
        "chat": {"id": -100200300, "title": "Clientes", "type": "supergroup"},
        "date": 1764461200,
        "text": "/start",
    },
}


async def secret_of(db: Database) -> str:
    """The webhook secret of bot `loja` (stored sealed)."""
    async with db.read() as conn:
        stored: str = await conn.scalar(select(bots.c.webhook_secret))
    return TokenCipher(SECRET_KEY).open(stored)


async def contact(db: Database, telegram_id: int = 42) -> Any:
    """The stored contact, or None."""
    async with db.read() as conn:
        query = select(telegram_contacts).where(telegram_contacts.c.telegram_id == telegram_id)
        return (await conn.execute(query)).mappings().first()


async def post_update(api: Client, db: Database, update: dict[str, Any]) -> Any:
    """POST an update as Telegram does, with the secret header."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": await secret_of(db)}
    return await api.post(WEBHOOK, update, token=None, headers=headers)


async def test_start_creates_the_contact(api: Client, bot: dict[str, Any], db: Database) -> None:
    """/start stores names, username, language, started_at; the contact is active."""
    answer = await post_update(api, db, start_update(10))
    assert answer.status == 200
    assert answer.body == {"ok": True, "duplicate": False}
    row = await contact(db)
    assert (row["first_name"], row["last_name"]) == ("Ana", "Souza")
    assert (row["username"], row["language_code"]) == ("anasouza", "pt-br")
    assert row["chat_state"] == "active"
    assert row["started_at"] is not None
    assert row["last_interaction_at"] == row["started_at"]


async def test_interactions_refresh_the_contact(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """An edited message and a button press refresh last_interaction_at, not started_at."""
    await post_update(api, db, start_update(10))
    first = await contact(db)
    for update in (EDITED, CALLBACK):
        answer = await post_update(api, db, update)
        assert answer.body == {"ok": True, "duplicate": False}
        row = await contact(db)
        assert row["last_interaction_at"] > first["last_interaction_at"]
        assert row["started_at"] == first["started_at"]
        first = row


async def test_block_and_unblock(api: Client, bot: dict[str, Any], db: Database) -> None:
    """my_chat_member kicked blocks the contact (blocked_at set); member makes it active."""
    await post_update(api, db, start_update(10))
    await post_update(api, db, member_update(40, "member", "kicked"))
    blocked = await contact(db)
    assert blocked["chat_state"] == "blocked"
    assert blocked["blocked_at"] is not None
    await post_update(api, db, member_update(41, "kicked", "member"))
    assert (await contact(db))["chat_state"] == "active"
    await post_update(api, db, member_update(42, "member", "kicked"))
    again = await contact(db)
    assert again["chat_state"] == "blocked"
    assert again["blocked_at"] > blocked["blocked_at"]


async def test_a_block_creates_an_unknown_contact(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A block from a user never seen is stored, blocked, so no shot goes to them."""
    await post_update(api, db, member_update(40, "member", "kicked"))
    row = await contact(db)
    assert (row["chat_state"], row["first_name"]) == ("blocked", "Ana")
    assert row["started_at"] is None


async def test_duplicate_updates_are_ignored(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Telegram's retry of an update id changes nothing; a new id is applied."""
    await post_update(api, db, start_update(10))
    await post_update(api, db, member_update(40, "member", "kicked"))
    again = await post_update(api, db, start_update(10))
    assert again.body == {"ok": True, "duplicate": True}
    assert (await contact(db))["chat_state"] == "blocked"
    async with db.read() as conn:
        ids = sorted(await conn.scalars(select(processed_updates.c.update_id)))
    assert ids == [10, 40]


async def test_group_updates_create_no_contact(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A /start in a group is not a private chat: no contact, but the id is recorded."""
    answer = await post_update(api, db, GROUP_MESSAGE)
    assert answer.body == {"ok": True, "duplicate": False}
    assert await contact(db, 55) is None


async def test_webhook_secret_is_required(api: Client, bot: dict[str, Any], db: Database) -> None:
    """A missing or wrong secret, or an unknown bot, is a 403 and nothing is stored."""
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
        answer = await api.post(WEBHOOK, start_update(10), token=None, headers=headers)
        assert answer.status == 403
        assert answer.body["error"]["code"] == "forbidden"
    secret = {"X-Telegram-Bot-Api-Secret-Token": await secret_of(db)}
    other = await api.post("/telegram/nobody/webhook", start_update(10), headers=secret)
    assert other.status == 403
    assert await contact(db) is None


async def test_webhook_refuses_malformed_updates(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Not JSON is a 400; JSON without an integer update_id is a 422."""
    secret = {
        "X-Telegram-Bot-Api-Secret-Token": await secret_of(db),
        "Content-Type": "application/json",
    }
    broken = await api.request("POST", WEBHOOK, data=b"{not json", token=None, headers=secret)
    assert (broken.status, broken.body["error"]["code"]) == (400, "bad_request")
    for body in ([1, 2], {"message": {}}, {"update_id": "7"}):
        answer = await api.post(WEBHOOK, body, token=None, headers=secret)
        assert (answer.status, answer.body["error"]["field"]) == (422, "update_id")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", True),
        ("/start promo_42", True),
        ("/start@loja_bot", True),
        ("/started", False),
        ("start", False),
        ("", False),
        (None, False),
    ],
)
def test_is_start_command(text: Any, expected: bool) -> None:
    """/start, with a payload or a bot name, is the start command; nothing else is."""
    assert is_start_command(text) is expected


def test_contact_event_of_each_update_kind() -> None:
    """Each update kind maps to its contact change; bots, groups and odd shapes map to none."""
    kinds = [
        (start_update(1), ContactChange.STARTED),
        (EDITED, ContactChange.INTERACTED),
        (CALLBACK, ContactChange.INTERACTED),
        (member_update(2, "member", "kicked"), ContactChange.BLOCKED),
        (member_update(3, "kicked", "member"), ContactChange.UNBLOCKED),
    ]
    for update, change in kinds:
        event = contact_event(update)
        assert event is not None
        assert (event.change, event.who.telegram_id) == (change, 42)
    assert contact_event(GROUP_MESSAGE) is None
    assert contact_event(start_update(4, BOT_USER)) is None
    assert contact_event({"update_id": 5, "message": "text"}) is None
    assert contact_event({"update_id": 6, "message": {"from": {"id": "42"}}}) is None
    assert contact_event(member_update(7, "member", "administrator")) is None


async def test_ids_past_64_bits_and_nul_never_fail_the_webhook(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """An update_id past 64 bits is a 422 naming it; a sender id past 64 bits is no contact
    (it was a 500 on SQLite); a NUL in a name is dropped (PostgreSQL text cannot hold it)."""
    too_big = await post_update(api, db, start_update(2**63))
    assert (too_big.status, too_big.body["error"]["field"]) == (422, "update_id")
    huge_user = await post_update(api, db, start_update(11, ANA | {"id": 2**63}))
    assert huge_user.status == 200, huge_user.body
    async with db.read() as conn:
        assert await conn.scalar(select(telegram_contacts.c.telegram_id)) is None
    nul = await post_update(api, db, start_update(12, ANA | {"first_name": "A\x00na"}))
    assert nul.status == 200, nul.body
    assert (await contact(db))["first_name"] == "Ana"


def _message(update_id: int, text: str) -> dict[str, Any]:
    update = start_update(update_id)
    update["message"]["text"] = text
    return update


async def _replies(db: Database) -> list[Any]:
    async with db.read() as conn:
        return list((await conn.execute(select(shot_responses))).mappings())


async def test_a_message_after_a_delivery_is_a_reply_to_that_shot(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A text from a recipient within 24 h of its delivery is one reply to the latest shot it
    got (a second text adds nothing); /start and an edit are not replies; nor is a text to a
    bot that sent the contact nothing in the last 24 h."""
    await post_update(api, db, start_update(10))
    sent_at = datetime.now(UTC) - timedelta(hours=2)
    async with db.write() as conn:
        for shot_id, at in ((1, sent_at - timedelta(hours=30)), (2, sent_at), (3, None)):
            await conn.execute(
                insert(shots_queue).values(id=shot_id, bot_slug="loja", target="started", copy="Oi")
            )
            await conn.execute(
                insert(shots_sent).values(
                    shot_id=shot_id, bot_slug="loja", telegram_id=42, seq=0,
                    status="sent" if at else "pending", sent_at=at,
                )
            )  # fmt: skip
    for not_a_reply in (start_update(11), EDITED):
        await post_update(api, db, not_a_reply)
    assert await _replies(db) == []
    await post_update(api, db, _message(12, "quero o pix"))
    await post_update(api, db, _message(13, "e o link?"))
    [reply] = await _replies(db)
    assert (reply["shot_id"], reply["kind"], reply["telegram_id"]) == (2, "reply", 42)
    async with db.write() as conn:
        await conn.execute(sql_update(shots_sent).values(sent_at=sent_at - timedelta(hours=30)))
        await conn.execute(delete(shot_responses))
    await post_update(api, db, _message(14, "oi?"))
    assert await _replies(db) == []
