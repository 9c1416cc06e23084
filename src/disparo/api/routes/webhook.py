"""POST /telegram/{slug}/webhook: where Telegram delivers a bot's updates.

The secret header is checked (constant time) before the body is even parsed.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from disparo.api.deps import DB, BotSlug, Cipher, Now
from disparo.api.errors import ApiError, described
from disparo.db.bots import webhook_secret_of
from disparo.ingest.updates import apply_update, is_update_id

router = APIRouter(tags=["telegram"])

# Compared against when the slug is unknown, so both refusals take the same time.
_NO_SECRET = b"\x00" * 43

# The part of Telegram's Update that Disparo reads; anything else is accepted and ignored.
_USER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "is_bot": {"type": "boolean"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "username": {"type": "string"},
        "language_code": {"type": "string"},
    },
}
_CHAT = {"type": "object", "properties": {"id": {"type": "integer"}, "type": {"type": "string"}}}
_MESSAGE = {
    "type": "object",
    "properties": {"from": _USER, "chat": _CHAT, "text": {"type": "string"}},
}
UPDATE_SCHEMA = {
    "type": "object",
    "required": ["update_id"],
    "properties": {
        "update_id": {"type": "integer"},
        "message": _MESSAGE,
        "edited_message": _MESSAGE,
        "callback_query": {"type": "object", "properties": {"from": _USER, "message": _MESSAGE}},
        "my_chat_member": {
            "type": "object",
            "properties": {
                "from": _USER,
                "chat": _CHAT,
                "new_chat_member": {
                    "type": "object",
                    "properties": {"status": {"type": "string"}},
                },
            },
        },
    },
}


class WebhookAck(BaseModel):
    """Telegram only looks at the status; `duplicate` says the update was seen before."""

    ok: bool = Field(description="always true")
    duplicate: bool = Field(description="the update was applied before; nothing changed")


def _forbidden() -> ApiError:
    return ApiError(
        403,
        "forbidden",
        "X-Telegram-Bot-Api-Secret-Token is missing or wrong; register the webhook with "
        "POST /admin/api/bots/{slug}/webhook",
    )


@router.post(
    "/telegram/{slug}/webhook",
    summary="Telegram's webhook for one bot",
    responses=described(400, "the body is not JSON")
    | described(403, "secret header missing or wrong")
    | described(413, "the body is above 1 MiB")
    | described(422, "the body is not a Telegram Update"),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": UPDATE_SCHEMA}},
            "description": "a Telegram Update object (the fields Disparo reads are listed)",
        }
    },
)
async def telegram_webhook(
    slug: BotSlug,
    request: Request,
    db: DB,
    cipher: Cipher,
    now: Now,
    secret: Annotated[
        str | None,
        Header(
            alias="X-Telegram-Bot-Api-Secret-Token",
            description="the bot's webhook secret, sent by Telegram",
        ),
    ] = None,
) -> WebhookAck:
    """Apply a /start, message, button press or block/unblock to the bot's contacts."""
    async with db.read() as conn:
        expected = await webhook_secret_of(conn, cipher, slug)
    given = (secret or "").encode()
    good = hmac.compare_digest(given, expected.encode() if expected else _NO_SECRET)
    if expected is None or not good:
        raise _forbidden()
    try:
        update: Any = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_request", "the body is not a JSON Telegram Update") from None
    if not isinstance(update, dict) or not is_update_id(update.get("update_id")):
        raise ApiError(
            422,
            "validation_error",
            "an Update needs an integer update_id (64 bits at most)",
            field="update_id",
        )
    async with db.write() as conn:
        applied = await apply_update(conn, slug, update, now=now)
    return WebhookAck(ok=True, duplicate=not applied)
