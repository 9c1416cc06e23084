"""Delivered messages: the record the simulator keeps, and the Message objects it answers with.

File ids are derived from the media source, so the same URL always yields the same
`file_unique_id`, as Telegram's do for the same file.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

_PHOTO_SIZES = ((90, 60, 1_200), (320, 213, 14_500), (800, 533, 61_000))
_PLAUSIBLE_FILE_ID_MIN = 20


@dataclass(slots=True)
class Delivery:
    """One message the simulated Telegram delivered to a chat."""

    message_id: int
    chat_id: int
    method: str
    content: dict[str, Any]  # the Message fields: text/entities or media/caption, reply_markup
    media: dict[str, str] | None  # {"type": "photo", "source": url, file_id or upload name}
    paid: bool
    time: float
    date: int
    edit_date: int | None = None
    deleted: bool = False
    copied_from: dict[str, int] | None = None

    def message(self, sender: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
        """The Message object Telegram returns for this delivery."""
        result = {"message_id": self.message_id, "from": sender, "chat": chat, "date": self.date}
        result.update(self.content)
        if self.edit_date is not None:
            result["edit_date"] = self.edit_date
        return result

    def view(self) -> dict[str, Any]:
        """What the control API shows: method, chat, text or caption and their entities, media,
        markup, time and date, and whether it was edited (when) or deleted."""
        content = self.content
        return {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "method": self.method,
            "text": content.get("text"),
            "caption": content.get("caption"),
            "entities": content.get("entities") or content.get("caption_entities") or [],
            "media": self.media,
            "reply_markup": content.get("reply_markup"),
            "allow_paid_broadcast": self.paid,
            "time": self.time,
            "date": self.date,
            "edited": self.edit_date is not None,
            "edit_date": self.edit_date,
            "deleted": self.deleted,
            "copied_from": self.copied_from,
        }


def _digest(text: str) -> str:
    raw = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=36).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def file_ids(source: str, variant: str) -> tuple[str, str]:
    """(file_id, file_unique_id) of a media source; a plausible file_id is kept as given."""
    digest = _digest(variant + "\x00" + source)
    unique_id = "AQAD" + digest[:12]
    plausible = len(source) >= _PLAUSIBLE_FILE_ID_MIN
    if plausible and "://" not in source and not source.startswith("upload:"):
        return source, unique_id
    return "AgACAgQAAxkBAAI" + digest[:44], unique_id


def photo_sizes(source: str) -> list[dict[str, Any]]:
    """The PhotoSize array Telegram returns: a thumbnail, a medium and a large size."""
    sizes = []
    for index, (width, height, size) in enumerate(_PHOTO_SIZES):
        largest = index == len(_PHOTO_SIZES) - 1
        file_id, unique_id = file_ids(source, "photo" if largest else f"photo{index}")
        sizes.append(
            {
                "file_id": file_id if largest else file_ids("~" + source, f"photo{index}")[0],
                "file_unique_id": unique_id,
                "file_size": size,
                "width": width,
                "height": height,
            }
        )
    return sizes


def video_object(
    source: str, duration: int | None, width: int | None, height: int | None
) -> dict[str, Any]:
    """A Video object for a sent video."""
    file_id, unique_id = file_ids(source, "video")
    return {
        "duration": duration or 30,
        "width": width or 1280,
        "height": height or 720,
        "mime_type": "video/mp4",
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_size": 2_500_000,
    }


def audio_object(
    source: str, duration: int | None, performer: str | None, title: str | None
) -> dict[str, Any]:
    """An Audio object for a sent audio."""
    file_id, unique_id = file_ids(source, "audio")
    audio: dict[str, Any] = {
        "duration": duration or 60,
        "mime_type": "audio/mpeg",
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_size": 960_000,
    }
    if performer:
        audio["performer"] = performer
    if title:
        audio["title"] = title
    if source.startswith("upload:"):
        audio["file_name"] = source[7:]
    return audio
