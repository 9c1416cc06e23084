"""The Bot API methods the simulator answers, each a function of one call.

Checks run in Telegram's order: parameters and content (400), a 429 storm, the recipient
(400 chat not found, 403 blocked or deactivated), fetching the media, then flood limits (429);
only a message that passes them all is delivered and counted. Deletes and edits are in `edits`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from disparo.simulator.bodies import get_bool, get_chat_id, get_int, get_json, get_str
from disparo.simulator.calls import Call, Described, Method, check_storm
from disparo.simulator.content import (
    check_caption,
    check_fetchable,
    check_text,
    formatted_text,
    media_source,
    reply_markup,
)
from disparo.simulator.edits import EDIT_METHODS
from disparo.simulator.errors import bad_request, conflict
from disparo.simulator.messages import audio_object, photo_sizes, video_object
from disparo.simulator.state import SimUser
from disparo.simulator.updates import WEBHOOK_ACTIVE, Webhook

_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _recipient(call: Call, chat_id: int) -> SimUser:
    check_storm(call)
    return call.bot.recipient(chat_id, call.world.strict_users)


def get_me(call: Call) -> dict[str, Any]:
    """getMe: the bot's User object."""
    return call.bot.me


def send_message(call: Call) -> dict[str, Any]:
    """sendMessage."""
    params, bot, world = call.params, call.bot, call.world
    chat_id = get_chat_id(params)
    text, entities = formatted_text(params, "text", "entities")
    content: dict[str, Any] = {"text": check_text(text)}
    if entities:
        content["entities"] = entities
    markup = reply_markup(params)
    if markup is not None:
        content["reply_markup"] = markup
    paid = get_bool(params, "allow_paid_broadcast")
    user = _recipient(call, chat_id)
    bot.admit(user, paid, world.clock())
    delivery = bot.deliver(user, "sendMessage", content, None, paid, world.wall_clock())
    return delivery.message(bot.sender, user.chat())


def _send_media(call: Call, kind: str, method: str, media: Callable[[str], Any]) -> dict[str, Any]:
    params, bot, world = call.params, call.bot, call.world
    chat_id = get_chat_id(params)
    source = media_source(params, kind)
    caption, entities = formatted_text(params, "caption", "caption_entities")
    check_caption(caption)
    markup = reply_markup(params)
    paid = get_bool(params, "allow_paid_broadcast")
    user = _recipient(call, chat_id)
    check_fetchable(source)
    bot.admit(user, paid, world.clock())
    content: dict[str, Any] = {kind: media(source)}
    if caption:
        content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
    if markup is not None:
        content["reply_markup"] = markup
    media_ref = {"type": kind, "source": source}
    delivery = bot.deliver(user, method, content, media_ref, paid, world.wall_clock())
    return delivery.message(bot.sender, user.chat())


def send_photo(call: Call) -> dict[str, Any]:
    """sendPhoto."""
    return _send_media(call, "photo", "sendPhoto", photo_sizes)


def send_video(call: Call) -> dict[str, Any]:
    """sendVideo."""
    p = call.params
    size = (get_int(p, "duration"), get_int(p, "width"), get_int(p, "height"))
    return _send_media(call, "video", "sendVideo", lambda source: video_object(source, *size))


def send_audio(call: Call) -> dict[str, Any]:
    """sendAudio."""
    p = call.params
    tags = (get_int(p, "duration"), get_str(p, "performer"), get_str(p, "title"))
    return _send_media(call, "audio", "sendAudio", lambda source: audio_object(source, *tags))


def copy_message(call: Call) -> dict[str, Any]:
    """copyMessage: a MessageId; a source in a chat the simulator does not model is trusted."""
    params, bot, world = call.params, call.bot, call.world
    chat_id = get_chat_id(params)
    from_chat_id = get_chat_id(params, "from_chat_id")
    message_id = get_int(params, "message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    source = bot.find(from_chat_id, message_id)
    if source is None and (from_chat_id in bot.users or message_id <= 0):
        raise bad_request("message to copy not found")
    content = {k: v for k, v in source.content.items() if k != "reply_markup"} if source else {}
    if "caption" in params:
        caption, entities = formatted_text(params, "caption", "caption_entities")
        check_caption(caption)
        content.pop("caption_entities", None)
        content.pop("caption", None)
        if caption and "text" not in content:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
    markup = reply_markup(params)
    if markup is not None:
        content["reply_markup"] = markup
    paid = get_bool(params, "allow_paid_broadcast")
    user = _recipient(call, chat_id)
    bot.admit(user, paid, world.clock())
    media_ref = source.media if source else None
    delivery = bot.deliver(user, "copyMessage", content, media_ref, paid, world.wall_clock())
    delivery.copied_from = {"chat_id": from_chat_id, "message_id": message_id}
    return {"message_id": delivery.message_id}


def set_webhook(call: Call) -> Described:
    """setWebhook: http and https URLs both accepted, so tests can listen on localhost."""
    params, feed = call.params, call.bot.feed
    url = (get_str(params, "url") or "").strip()
    drop = get_bool(params, "drop_pending_updates")
    if not url:
        was_set = feed.webhook is not None
        feed.delete_webhook(drop)
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")
    if not url.lower().startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = get_str(params, "secret_token")
    if secret is not None and (not 1 <= len(secret) <= 256 or not set(secret) <= _SECRET_CHARS):
        raise bad_request("secret token contains unallowed characters")
    allowed = get_json(params, "allowed_updates", "can't parse allowed updates JSON object")
    max_connections = get_int(params, "max_connections") or 40
    same = feed.webhook is not None and feed.webhook.url == url
    hook = Webhook(url, secret or None, max(1, min(100, max_connections)), _names(allowed))
    feed.set_webhook(hook, drop)
    return Described(True, "Webhook is already set" if same else "Webhook was set")


def delete_webhook(call: Call) -> Described:
    """deleteWebhook."""
    feed = call.bot.feed
    was_set = feed.webhook is not None
    feed.delete_webhook(get_bool(call.params, "drop_pending_updates"))
    return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")


def get_webhook_info(call: Call) -> dict[str, Any]:
    """getWebhookInfo."""
    return call.bot.feed.info()


def get_updates(call: Call) -> Awaitable[list[dict[str, Any]]]:
    """getUpdates (long polling when `timeout` > 0, unless the fault ignore_poll_timeout is on)."""
    params, feed = call.params, call.bot.feed
    if feed.webhook is not None:
        raise conflict(WEBHOOK_ACTIVE)
    offset = get_int(params, "offset")
    limit = get_int(params, "limit") or 100
    timeout_s = get_int(params, "timeout") or 0
    if call.world.faults.ignore_poll_timeout:
        timeout_s = 0
    allowed = get_json(params, "allowed_updates", "can't parse allowed updates JSON object")
    return feed.get_updates(offset, limit, float(max(0, timeout_s)), _names(allowed))


def _names(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [name for name in value if isinstance(name, str)]


METHODS: dict[str, Method] = {
    "getme": get_me,
    "sendmessage": send_message,
    "sendphoto": send_photo,
    "sendvideo": send_video,
    "sendaudio": send_audio,
    "copymessage": copy_message,
    **EDIT_METHODS,
    "setwebhook": set_webhook,
    "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info,
    "getupdates": get_updates,
}
