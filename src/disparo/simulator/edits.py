"""Taking back and changing sent messages: deleteMessage(s) and the editMessage* methods.

Checks run in the Bot API's order: parameters and content (400), a 429 storm, the chat
(400 chat not found, 403 user is deactivated), the message (400 not found, too old to delete,
no text or no caption, not modified), then flood limits (429): an edit or a delete counts against
the same per-bot window and per-chat bucket as a send, and only one that passes them all changes
anything. A bot may delete its message in a private chat for 48 hours and edit it for ever.
Inline messages are not modelled: every inline_message_id is unknown to the simulator.
"""

from __future__ import annotations

from typing import Any

from disparo.simulator.bodies import Params, get_bool, get_chat_id, get_json, get_str
from disparo.simulator.calls import Call, check_storm, message_id_of
from disparo.simulator.content import (
    check_caption,
    check_text,
    formatted_text,
    inline_reply_markup,
)
from disparo.simulator.errors import bad_request
from disparo.simulator.messages import Delivery
from disparo.simulator.state import SimUser

DELETE_LIMIT_S = 48 * 3600  # a bot's message in a private chat, as td's revoke_pm_time_limit
DELETE_MANY_LIMIT = 100
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
TOO_OLD_TO_DELETE = "message can't be deleted for everyone"
_MEDIA = ("photo", "video", "audio")
_CAPTION_ABOVE = ("photo", "video")  # the media Telegram can show a caption above


def _chat(call: Call, chat_id: int) -> SimUser:
    check_storm(call)
    return call.bot.known_chat(chat_id, call.world.strict_users)


def _deletable(call: Call, delivery: Delivery) -> None:
    if int(call.world.wall_clock()) - delivery.date > DELETE_LIMIT_S:
        raise bad_request(TOO_OLD_TO_DELETE)


def _delete(call: Call, user: SimUser, deliveries: list[Delivery]) -> None:
    bot = call.bot
    bot.admit(user, False, call.world.clock())
    for delivery in deliveries:
        delivery.deleted = True
    bot.stats.deleted += len(deliveries)


def delete_message(call: Call) -> bool:
    """deleteMessage."""
    params = call.params
    if get_str(params, "chat_id") in (None, ""):
        raise bad_request("chat identifier is not specified")
    message_id = message_id_of(params)
    if message_id == 0:
        raise bad_request("message identifier is not specified")
    chat_id = get_chat_id(params)
    user = _chat(call, chat_id)
    delivery = call.bot.find(chat_id, message_id)
    if delivery is None:
        raise bad_request("message to delete not found")
    _deletable(call, delivery)
    _delete(call, user, [delivery])
    return True


def delete_messages(call: Call) -> bool:
    """deleteMessages: the messages found are deleted, the others skipped; one too old to
    delete refuses them all."""
    params = call.params
    message_ids = _message_ids(params)
    chat_id = get_chat_id(params)
    user = _chat(call, chat_id)
    found = [call.bot.find(chat_id, message_id) for message_id in dict.fromkeys(message_ids)]
    deliveries = [delivery for delivery in found if delivery is not None]
    for delivery in deliveries:
        _deletable(call, delivery)
    _delete(call, user, deliveries)
    return True


def _message_ids(params: Params) -> list[int]:
    """`message_ids`, checked as the Bot API checks it (1 to 100 positive identifiers)."""
    if params.get("message_ids") in (None, ""):
        raise bad_request("message identifiers are not specified")
    value = get_json(params, "message_ids", "can't parse message_ids JSON object")
    if not isinstance(value, list):
        raise bad_request("expected an Array of message identifiers")
    if len(value) > DELETE_MANY_LIMIT:
        raise bad_request("too many message identifiers specified")
    if not value:
        raise bad_request("message identifiers are not specified")
    ids = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise bad_request("message identifier must be a Number")
        try:
            number = int(item)
        except ValueError:
            raise bad_request("can't parse message identifier as a Number") from None
        if number <= 0:
            raise bad_request("invalid message identifier specified")
        ids.append(number)
    return ids


def _target(call: Call) -> tuple[SimUser, Delivery]:
    """The chat and message an edit names, or the answer Telegram gives instead."""
    params = call.params
    message_id = message_id_of(params)
    if get_str(params, "chat_id") in (None, "") and message_id == 0:
        if get_str(params, "inline_message_id"):
            raise bad_request("invalid inline message identifier specified")
        raise bad_request("message identifier is not specified")
    chat_id = get_chat_id(params)
    user = _chat(call, chat_id)
    delivery = call.bot.find(chat_id, message_id) if message_id else None
    if delivery is None:
        raise bad_request("message to edit not found")
    return user, delivery


def _apply(call: Call, user: SimUser, delivery: Delivery, new: dict[str, Any]) -> Any:
    if new == delivery.content:
        raise bad_request(NOT_MODIFIED)
    bot, world = call.bot, call.world
    bot.admit(user, False, world.clock())
    delivery.content = new
    delivery.edit_date = int(world.wall_clock())
    bot.stats.edited += 1
    return delivery.message(bot.sender, user.chat())


def _markup(new: dict[str, Any], markup: dict[str, Any] | None) -> dict[str, Any]:
    if markup is not None:
        new["reply_markup"] = markup
    return new


def edit_message_text(call: Call) -> Any:
    """editMessageText: a text message's text, entities and keyboard (omitted: removed)."""
    params = call.params
    text, entities = formatted_text(params, "text", "entities")
    new: dict[str, Any] = {"text": check_text(text)}
    if entities:
        new["entities"] = entities
    markup = inline_reply_markup(params)
    user, delivery = _target(call)
    if "text" not in delivery.content:
        raise bad_request("there is no text in the message to edit")
    return _apply(call, user, delivery, _markup(new, markup))


def edit_message_caption(call: Call) -> Any:
    """editMessageCaption: a media message's caption (omitted: removed) and keyboard."""
    params = call.params
    markup = inline_reply_markup(params)
    caption, entities = formatted_text(params, "caption", "caption_entities")
    check_caption(caption)
    above = get_bool(params, "show_caption_above_media")
    user, delivery = _target(call)
    old = delivery.content
    kinds = [kind for kind in _MEDIA if kind in old]
    if not kinds:
        raise bad_request("there is no caption in the message to edit")
    new = {kind: old[kind] for kind in kinds}
    if caption:
        new["caption"] = caption
        if entities:
            new["caption_entities"] = entities
    if above and kinds[0] in _CAPTION_ABOVE:
        new["show_caption_above_media"] = True
    return _apply(call, user, delivery, _markup(new, markup))


def edit_message_reply_markup(call: Call) -> Any:
    """editMessageReplyMarkup: any message's inline keyboard (omitted: removed)."""
    markup = inline_reply_markup(call.params)
    user, delivery = _target(call)
    new = {key: value for key, value in delivery.content.items() if key != "reply_markup"}
    return _apply(call, user, delivery, _markup(new, markup))


EDIT_METHODS = {
    "deletemessage": delete_message,
    "deletemessages": delete_messages,
    "editmessagetext": edit_message_text,
    "editmessagecaption": edit_message_caption,
    "editmessagereplymarkup": edit_message_reply_markup,
}
