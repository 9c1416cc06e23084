"""A shot's content: checked as Telegram would before it is queued, and sent as a preview."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from disparo.api.errors import invalid
from disparo.domain.copy import CopyError, check_buttons, check_copy, check_media_url
from disparo.domain.sending import delivery_steps
from disparo.domain.statuses import MediaType
from disparo.telegram import Bot, Message


@dataclass(frozen=True, slots=True)
class Content:
    """What a shot sends: copy, optional media, optional inline buttons."""

    copy: str
    media_type: MediaType
    media_url: str | None
    buttons: Any


def check_content(content: Content) -> None:
    """Refuse (422 naming the field) content Telegram would refuse."""
    try:
        if content.media_type is MediaType.NONE:
            if content.media_url is not None:
                raise CopyError(
                    "media_url is set but media_type is none; set media_type to photo, video "
                    "or audio, or leave media_url out",
                    field="media_url",
                )
        elif content.media_url is None:
            raise CopyError(
                f"media_type is {content.media_type.value}, so media_url is required",
                field="media_url",
            )
        else:
            check_media_url(content.media_url)
        check_copy(content.copy, content.media_type)
        if content.buttons is not None:
            check_buttons(content.buttons)
    except CopyError as exc:
        raise invalid(exc.field, exc.message) from None


async def send_preview(bot: Bot, chat_id: int, content: Content) -> list[Message]:
    """Send the content to one chat exactly as a shot would (`delivery_steps`, without the
    paid-broadcast flag); Telegram's messages, in order."""
    steps = delivery_steps(
        copy=content.copy,
        media_type=content.media_type.value,
        media_url=content.media_url,
        buttons=content.buttons,
        paid_broadcast=False,
    )
    messages: list[Message] = []
    for step in steps:
        messages.append(await bot.call(step.method, {**step.params, "chat_id": chat_id}))
    return messages
