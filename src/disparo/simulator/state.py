"""One simulated bot: its identity, its users and their states, flood limits, deliveries.

Users are `active`, `blocked`, `deactivated` or `missing`; sending to them answers as Telegram
does (403 blocked / deactivated, 400 chat not found). Every delivered message is recorded so
tests can count deliveries per chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from disparo.simulator.errors import bad_request, forbidden, too_many_requests
from disparo.simulator.limits import Limits, SlidingWindow, TokenBucket, retry_after_s
from disparo.simulator.messages import Delivery
from disparo.simulator.updates import Poster, UpdateFeed

USER_STATES = ("active", "blocked", "deactivated", "missing")
TOKEN_PATTERN = re.compile(r"(\d{1,20}):[A-Za-z0-9_-]{35}")
_BOT_ONLY_FIELDS = {
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}


def bot_id_of(token: str) -> int | None:
    """The bot id of a well-formed token (`<digits>:<35 chars>`), else None."""
    match = TOKEN_PATTERN.fullmatch(token)
    return int(match.group(1)) if match else None


@dataclass(slots=True)
class SimUser:
    """A Telegram user as one bot knows it, with that private chat's message counter."""

    id: int
    state: str = "active"
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "pt-br"
    last_message_id: int = 0
    bucket: TokenBucket | None = None
    deliveries: dict[int, Delivery] = field(default_factory=dict)
    sent: int = 0
    _chat: dict[str, Any] | None = None

    def chat(self) -> dict[str, Any]:
        """The private Chat object of this user."""
        if self._chat is None:
            chat: dict[str, Any] = {"id": self.id, "first_name": self.first_name}
            if self.last_name:
                chat["last_name"] = self.last_name
            if self.username:
                chat["username"] = self.username
            chat["type"] = "private"
            self._chat = chat
        return self._chat

    def as_user(self) -> dict[str, Any]:
        """The User object of this user (as the sender of an update)."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def update_profile(self, **profile: Any) -> None:
        """Change names or language; the cached Chat object follows."""
        for name, value in profile.items():
            setattr(self, name, value)
        self._chat = None


@dataclass(slots=True)
class BotStats:
    """Counters of one bot's Bot API traffic."""

    requests: int = 0
    delivered: int = 0
    edited: int = 0
    deleted: int = 0
    too_many: int = 0
    client_errors: int = 0
    server_errors: int = 0
    dropped: int = 0
    slow: int = 0
    get_updates: int = 0


class BotState:
    """Everything the simulated Telegram holds for one bot token."""

    def __init__(self, token: str, bot_id: int, limits: Limits, poster: Poster) -> None:
        self.token = token
        self.bot_id = bot_id
        username = f"disparo_sim_{bot_id}_bot"
        self.sender = {
            "id": bot_id,
            "is_bot": True,
            "first_name": f"Simulated bot {bot_id}",
            "username": username,
        }
        self.me: dict[str, Any] = {}
        self.answer_me_as({})
        self.users: dict[int, SimUser] = {}
        self.limits = limits
        self.window = SlidingWindow(limits.per_second)
        self.paid_window = SlidingWindow(limits.paid_per_second)
        self.deliveries: list[Delivery] = []
        self.stats = BotStats()
        self.feed = UpdateFeed(poster, bot_id)
        self.revoked = False

    def answer_me_as(self, user: dict[str, Any]) -> None:
        """What getMe answers: this bot, or with `user`'s fields over it (another bot, a user).

        A User that is not a bot carries none of the bot-only fields.
        """
        me = {**self.sender, **_BOT_ONLY_FIELDS, **user}
        if me["is_bot"] is not True:
            me = {key: value for key, value in me.items() if key not in _BOT_ONLY_FIELDS}
        self.me = me

    # users ---------------------------------------------------------------------------------

    def user(self, user_id: int) -> SimUser:
        """The user with this id, created active with a derived name when new."""
        user = self.users.get(user_id)
        if user is None:
            user = SimUser(user_id, first_name=f"User {user_id}")
            self.users[user_id] = user
        return user

    def recipient(self, chat_id: int, strict_users: bool) -> SimUser:
        """The user a message to `chat_id` goes to, or the 400/403 Telegram answers."""
        user = self.users.get(chat_id)
        if user is None:
            if strict_users or chat_id <= 0:
                raise bad_request("chat not found")
            user = self.user(chat_id)
        state = user.state
        if state == "active":
            return user
        if state == "blocked":
            raise forbidden("bot was blocked by the user")
        if state == "deactivated":
            raise forbidden("user is deactivated")
        raise bad_request("chat not found")

    def known_chat(self, chat_id: int, strict_users: bool) -> SimUser:
        """The chat of an edit or a delete, or the 400/403 Telegram answers.

        A deleted account is 403 as for sending; a user who blocked the bot is not refused:
        the Bot API checks only deleted accounts before an edit or a delete, and Telegram's
        messages.deleteMessages lists no USER_IS_BLOCKED error (for edits this is inferred).
        """
        user = self.users.get(chat_id)
        if user is None:
            if strict_users or chat_id <= 0:
                raise bad_request("chat not found")
            user = self.user(chat_id)
        if user.state == "missing":
            raise bad_request("chat not found")
        if user.state == "deactivated":
            raise forbidden("user is deactivated")
        return user

    # limits ----------------------------------------------------------------------------------

    def set_limits(self, limits: Limits) -> None:
        """New flood limits (control API); chat buckets pick up the new burst."""
        self.limits = limits
        self.window.limit = limits.per_second
        self.paid_window.limit = limits.paid_per_second
        for user in self.users.values():
            if user.bucket is not None:
                user.bucket.capacity = limits.per_chat_burst
                user.bucket.rate_per_s = limits.per_chat_per_second

    def admit(self, user: SimUser, paid: bool, now: float) -> None:
        """Count one message against the bot and chat limits, or raise 429 counting nothing."""
        window = self.paid_window if paid else self.window
        wait = window.wait_s(now)
        bucket = user.bucket
        if bucket is None:
            limits = self.limits
            bucket = TokenBucket(limits.per_chat_burst, limits.per_chat_per_second, now)
            user.bucket = bucket
        wait = max(wait, bucket.wait_s(now))
        if wait > 0:
            raise too_many_requests(retry_after_s(wait))
        window.record(now)
        bucket.take()

    # deliveries -----------------------------------------------------------------------------

    def deliver(
        self,
        user: SimUser,
        method: str,
        content: dict[str, Any],
        media: dict[str, str] | None,
        paid: bool,
        now_wall: float,
    ) -> Delivery:
        """Record a delivered message in the user's chat and return it."""
        user.last_message_id += 1
        delivery = Delivery(
            user.last_message_id, user.id, method, content, media, paid, now_wall, int(now_wall)
        )
        user.deliveries[delivery.message_id] = delivery
        user.sent += 1
        self.deliveries.append(delivery)
        self.stats.delivered += 1
        return delivery

    def find(self, chat_id: int, message_id: int) -> Delivery | None:
        """A message this bot delivered, if any (and not deleted)."""
        user = self.users.get(chat_id)
        if user is None:
            return None
        delivery = user.deliveries.get(message_id)
        if delivery is None or delivery.deleted:
            return None
        return delivery

    def age(self, seconds: float, chat_id: int | None, message_ids: list[int] | None) -> int:
        """Move messages `seconds` into the past (all, one chat's, or some of it); how many."""
        if chat_id is None:
            deliveries = self.deliveries
        else:
            user = self.users.get(chat_id)
            chat = user.deliveries if user is not None else {}
            ids = chat.keys() if message_ids is None else message_ids
            deliveries = [chat[message_id] for message_id in ids if message_id in chat]
        for delivery in deliveries:
            delivery.time -= seconds
            delivery.date = int(delivery.time)
        return len(deliveries)

    def describe_stats(self) -> dict[str, Any]:
        """Counters plus the per-chat view: chats that received more than one message."""
        stats = self.stats
        duplicated = [user.id for user in self.users.values() if user.sent > 1]
        per_chat_max = max((user.sent for user in self.users.values()), default=0)
        return {
            "requests": stats.requests,
            "delivered": stats.delivered,
            "edited": stats.edited,
            "deleted": stats.deleted,
            "429": stats.too_many,
            "4xx": stats.client_errors,
            "5xx": stats.server_errors,
            "dropped": stats.dropped,
            "slow": stats.slow,
            "get_updates": stats.get_updates,
            "chats": sum(1 for user in self.users.values() if user.sent),
            "messages_per_chat_max": per_chat_max,
            "duplicates": {"count": len(duplicated), "chat_ids": duplicated[:1000]},
            "webhook_delivered": self.feed.delivered,
            "pending_updates": self.feed.pending_count,
        }

    # updates ---------------------------------------------------------------------------------

    def start(self, user: SimUser, now_wall: float) -> list[int]:
        """The user sends /start (unblocking the bot first if needed); queue the updates."""
        ids = []
        if user.state == "blocked":
            ids.append(self._member_update(user, "kicked", "member", now_wall))
        user.state = "active"
        command = [{"offset": 0, "length": 6, "type": "bot_command"}]
        ids.append(self._message_update(user, "/start", now_wall, entities=command))
        return ids

    def write(self, user: SimUser, text: str, now_wall: float) -> list[int]:
        """The user writes `text` in the bot's chat; queue the message update."""
        return [self._message_update(user, text, now_wall)]

    def block(self, user: SimUser, now_wall: float) -> list[int]:
        """The user blocks the bot: state `blocked` and a my_chat_member update."""
        user.state = "blocked"
        return [self._member_update(user, "member", "kicked", now_wall)]

    def unblock(self, user: SimUser, now_wall: float) -> list[int]:
        """The user unblocks the bot: state `active` and a my_chat_member update."""
        user.state = "active"
        return [self._member_update(user, "kicked", "member", now_wall)]

    def _message_update(
        self,
        user: SimUser,
        text: str,
        now_wall: float,
        *,
        entities: list[dict[str, Any]] | None = None,
    ) -> int:
        user.last_message_id += 1
        message: dict[str, Any] = {
            "message_id": user.last_message_id,
            "from": user.as_user(),
            "chat": user.chat(),
            "date": int(now_wall),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        return self.feed.push({"message": message})

    def _member_update(self, user: SimUser, old: str, new: str, now_wall: float) -> int:
        def member(status: str) -> dict[str, Any]:
            if status == "kicked":
                return {"status": "kicked", "user": self.sender, "until_date": 0}
            return {"status": status, "user": self.sender}

        change = {
            "chat": user.chat(),
            "from": user.as_user(),
            "date": int(now_wall),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        return self.feed.push({"my_chat_member": change})
