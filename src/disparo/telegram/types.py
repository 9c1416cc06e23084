"""The few Bot API objects callers read, typed; at run time they are the decoded JSON dicts.

Only the fields Disparo reads are declared; every other field Telegram sends is still in the
dict. The functional syntax is used where a field is named ``from``.
"""

from __future__ import annotations

from typing import Any, Required, TypedDict

ChatId = int | str
"""A chat's numeric id, or ``@username`` of a channel."""

JSONObject = dict[str, Any]


class User(TypedDict, total=False):
    """A Telegram user or bot (the answer of getMe)."""

    id: Required[int]
    is_bot: bool
    first_name: str
    last_name: str
    username: str
    language_code: str


class Chat(TypedDict, total=False):
    """A chat (for a bot's contacts: the private chat, whose id is the user's id)."""

    id: Required[int]
    type: str
    title: str
    username: str
    first_name: str
    last_name: str


Message = TypedDict(
    "Message",
    {
        "message_id": Required[int],
        "date": int,
        "chat": Chat,
        "from": User,
        "text": str,
        "caption": str,
    },
    total=False,
)
"""A message; the send helpers return the message Telegram delivered."""


class MessageId(TypedDict):
    """The answer of copyMessage."""

    message_id: int


class ChatMember(TypedDict, total=False):
    """A member of a chat; ``status`` ``kicked`` in a private chat means the bot was blocked."""

    status: Required[str]
    user: User


ChatMemberUpdated = TypedDict(
    "ChatMemberUpdated",
    {
        "chat": Required[Chat],
        "from": Required[User],
        "date": int,
        "old_chat_member": ChatMember,
        "new_chat_member": ChatMember,
    },
    total=False,
)
"""A change of the bot's membership in a chat (blocked, unblocked)."""


class Update(TypedDict, total=False):
    """An incoming update (getUpdates or a webhook call)."""

    update_id: Required[int]
    message: Message
    edited_message: Message
    my_chat_member: ChatMemberUpdated
    callback_query: JSONObject
