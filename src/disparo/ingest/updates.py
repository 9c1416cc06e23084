"""Telegram updates → contact changes: one handler for webhooks and long polling.

/start creates or refreshes the contact; any message or button press refreshes its last
interaction, and a message (not /start) within 24 h of a delivery is a reply to that shot;
`my_chat_member` says when the user blocks (kicked) or unblocks (member) the bot.
Only private chats count: a contact is a person the bot can message. Each update_id is applied
at most once per bot (processed_updates), in the transaction that applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeGuard

from disparo.db.contacts import Profile, record_chat_state, record_interaction
from disparo.db.engine import Connection
from disparo.db.links import record_reply
from disparo.db.updates import claim_update
from disparo.domain.statuses import ChatState

log = logging.getLogger("disparo.ingest.updates")

# What Disparo asks Telegram for, by webhook and getUpdates alike.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
# Update and user ids are stored as BIGINT; Telegram's own stay far below (52 bits at most).
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def is_update_id(value: object) -> TypeGuard[int]:
    """True for an integer update_id that fits the database."""
    return type(value) is int and _BIGINT_MIN <= value <= _BIGINT_MAX


class ContactChange(StrEnum):
    """What an update means for the contact who sent it."""

    STARTED = "started"
    INTERACTED = "interacted"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """A change to apply to one contact."""

    change: ContactChange
    who: Profile
    replied: bool = False  # a message of theirs (not /start): a reply to a recent shot


def _str(value: Any) -> str | None:
    # PostgreSQL text cannot hold NUL; Telegram never sends one, so it is noise to drop.
    return value.replace("\x00", "") if isinstance(value, str) else None


def _profile(user: Any) -> Profile | None:
    if not isinstance(user, Mapping) or user.get("is_bot") is True:
        return None
    user_id = user.get("id")
    if type(user_id) is not int or not 0 < user_id <= _BIGINT_MAX:
        return None
    return Profile(
        telegram_id=user_id,
        first_name=_str(user.get("first_name")),
        last_name=_str(user.get("last_name")),
        username=_str(user.get("username")),
        language_code=_str(user.get("language_code")),
    )


def _private(message: Any) -> bool:
    chat = message.get("chat") if isinstance(message, Mapping) else None
    return isinstance(chat, Mapping) and chat.get("type") == "private"


def is_start_command(text: Any) -> bool:
    """True for `/start`, `/start payload` and `/start@BotName`."""
    if not isinstance(text, str):
        return False
    command = text.split(maxsplit=1)[0] if text.strip() else ""
    return command == "/start" or command.startswith("/start@")


def contact_event(update: Mapping[str, Any]) -> ContactEvent | None:
    """What the update means for a contact, or None when it concerns no private chat."""
    for kind in ("message", "edited_message"):
        message = update.get(kind)
        if isinstance(message, Mapping):
            who = _profile(message.get("from"))
            if who is None or not _private(message):
                return None
            started = kind == "message" and is_start_command(message.get("text"))
            change = ContactChange.STARTED if started else ContactChange.INTERACTED
            return ContactEvent(change, who, replied=kind == "message" and not started)
    query = update.get("callback_query")
    if isinstance(query, Mapping):
        who = _profile(query.get("from"))
        if who is None or not _private(query.get("message")):
            return None
        return ContactEvent(ContactChange.INTERACTED, who)
    member = update.get("my_chat_member")
    if isinstance(member, Mapping) and _private(member):
        who = _profile(member.get("from"))
        new = member.get("new_chat_member")
        status = new.get("status") if isinstance(new, Mapping) else None
        if who is None:
            return None
        if status == "kicked":
            return ContactEvent(ContactChange.BLOCKED, who)
        if status == "member":
            return ContactEvent(ContactChange.UNBLOCKED, who)
    return None


async def apply_update(
    conn: Connection, bot_slug: str, update: Mapping[str, Any], *, now: datetime
) -> bool:
    """Apply one update in the caller's transaction; False when it was already applied."""
    update_id = update.get("update_id")
    if not is_update_id(update_id):
        raise ValueError("an update needs an integer update_id that fits 64 bits")
    if not await claim_update(conn, bot_slug, update_id, now):
        return False
    event = contact_event(update)
    if event is None:
        return True
    if event.change in (ContactChange.STARTED, ContactChange.INTERACTED):
        started = event.change is ContactChange.STARTED
        await record_interaction(conn, bot_slug, event.who, now=now, started=started)
        if event.replied:
            await record_reply(conn, bot_slug, event.who.telegram_id, now=now)
    else:
        state = ChatState.BLOCKED if event.change is ContactChange.BLOCKED else ChatState.ACTIVE
        await record_chat_state(conn, bot_slug, event.who, state, now=now)
    log.debug("update applied", extra={"bot_slug": bot_slug, "change": event.change.value})
    return True


async def apply_updates(
    conn: Connection, bot_slug: str, updates: Sequence[Mapping[str, Any]], *, now: datetime
) -> int:
    """Apply a batch (getUpdates) in one transaction; how many were new."""
    applied = 0
    for update in updates:
        if is_update_id(update.get("update_id")) and await apply_update(
            conn, bot_slug, update, now=now
        ):
            applied += 1
    return applied
