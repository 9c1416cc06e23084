"""Request and response bodies of the template routes and of the rendered preview."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from disparo.api.schemas import (
    _BUTTONS,
    _COPY,
    _MEDIA_URL,
    ID_LIMIT,
    TELEGRAM_ID_LIMIT,
    ButtonRows,
)
from disparo.domain.statuses import MediaType, Target

_NAME = "a name for people (1–100 characters)"
_BOT = "the bot that may use it; null for every bot"
_VARIABLES = (
    "; may hold personal variables: {first_name}, {first_name|fallback}, {attr.plano}, ... "
    "(docs/api.md, Templates and personal variables)"
)


class TemplateIn(BaseModel):
    """A message to save for later shots."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "PIX expirando",
                    "copy": "{first_name|Oi}, seu PIX de <b>{last_pix_amount}</b> expira hoje!",
                    "media_type": "none",
                    "buttons": [[{"text": "Pagar", "url": "https://example.com/pix"}]],
                    "bot_slug": "loja",
                }
            ]
        },
    )
    name: str = Field(min_length=1, max_length=100, description=_NAME)
    copy_text: str = Field(alias="copy", description=_COPY + _VARIABLES)
    media_type: MediaType = Field(default=MediaType.NONE, description="photo, video, audio, none")
    media_url: str | None = Field(default=None, description=_MEDIA_URL)
    buttons: ButtonRows | None = Field(default=None, description=_BUTTONS)
    bot_slug: str | None = Field(default=None, description=_BOT)


class TemplatePatch(BaseModel):
    """Changes to a template; fields left out stay as they are. Shots made from it do not
    change."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100, description=_NAME)
    copy_text: str | None = Field(default=None, alias="copy", description=_COPY + _VARIABLES)
    media_type: MediaType | None = Field(default=None, description="photo, video, audio, none")
    media_url: str | None = Field(default=None, description=_MEDIA_URL)
    buttons: ButtonRows | None = Field(default=None, description=_BUTTONS)
    bot_slug: str | None = Field(default=None, description=_BOT)


class TemplateOut(BaseModel):
    """A saved template."""

    model_config = ConfigDict(serialize_by_alias=True)
    id: int = Field(description="the template's id (a shot's from_template)")
    name: str = Field(description=_NAME)
    copy_text: str = Field(alias="copy", description=_COPY + _VARIABLES)
    media_type: MediaType = Field(description="photo, video, audio or none")
    media_url: str | None = Field(description=_MEDIA_URL)
    buttons: Any = Field(description=_BUTTONS)
    bot_slug: str | None = Field(description=_BOT)
    variables: list[str] = Field(description="the personal variables it uses")
    created_at: datetime = Field(description="when it was saved")
    updated_at: datetime = Field(description="when it last changed")


class TemplateList(BaseModel):
    """Templates by name."""

    items: list[TemplateOut] = Field(description="the templates")


class RenderIn(BaseModel):
    """A shot's content, rendered for one contact or for the first contacts of an audience."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"bot_slug": "loja", "copy": "Oi {first_name|amigo}!", "telegram_id": 123456}
            ]
        },
    )
    bot_slug: str = Field(min_length=1, description="the bot whose contacts fill the variables")
    copy_text: str = Field(alias="copy", description=_COPY + _VARIABLES)
    media_type: MediaType = Field(default=MediaType.NONE, description="photo, video, audio, none")
    media_url: str | None = Field(default=None, description=_MEDIA_URL)
    buttons: ButtonRows | None = Field(default=None, description=_BUTTONS)
    telegram_id: int | None = Field(
        default=None,
        ge=-TELEGRAM_ID_LIMIT,
        le=TELEGRAM_ID_LIMIT,
        description="render for this contact; leave out for the first contacts of the audience",
    )
    target: Target = Field(default=Target.STARTED, description="the audience, without telegram_id")
    recency_days: int | None = Field(default=None, ge=1, le=3650, description="the audience's")
    filter: dict[str, Any] | None = Field(default=None, description="the audience's filter")
    segment_id: int | None = Field(
        default=None, ge=1, le=ID_LIMIT, description="the audience's segment"
    )
    limit: int = Field(default=5, ge=1, le=20, description="how many of the audience's first")


class Rendered(BaseModel):
    """What one contact would receive."""

    model_config = ConfigDict(serialize_by_alias=True)
    telegram_id: int = Field(description="the contact")
    known: bool = Field(description="whether it is one of the bot's contacts (else no values)")
    name: str | None = Field(description="its first and last name, to show")
    copy_text: str = Field(alias="copy", description="the copy as it would be sent")
    buttons: Any = Field(description="the buttons as they would be sent")
    missing: list[str] = Field(description="variables without a value (rendered empty)")
    length: int = Field(description="visible length of the copy, as Telegram counts it")
    too_long: bool = Field(description="over Telegram's limit: this contact would get too_long")


class RenderOut(BaseModel):
    """The content rendered for each contact asked for."""

    model_config = ConfigDict(serialize_by_alias=True)
    limit: int = Field(description="Telegram's length limit for this media type")
    items: list[Rendered] = Field(description="one per contact")
