"""Request and response bodies of the audience routes: segments, tags and the estimate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from disparo.api.schemas import ID_LIMIT, ButtonRows
from disparo.domain.statuses import MediaType, Target

_FILTER = (
    "a filter tree (docs/api.md, Audience filters), e.g. {all: [{tag: vip}, {not: {paid: {}}}]}"
)
_NAME = "a name for people, unique among the bot's segments (1–100 characters)"
_EXAMPLE_FILTER: dict[str, JsonValue] = {
    "all": [{"tag": "curso-a"}, {"last_pix": {"within_days": 3}}, {"not": {"paid": {}}}]
}


class SegmentIn(BaseModel):
    """A segment to save."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "PIX sem pagamento", "filter": _EXAMPLE_FILTER}]},
    )
    name: str = Field(min_length=1, max_length=100, description=_NAME)
    filter: dict[str, Any] = Field(description=_FILTER)


class SegmentPatch(BaseModel):
    """Changes to a segment; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100, description=_NAME)
    filter: dict[str, Any] | None = Field(default=None, description=_FILTER)


class SegmentOut(BaseModel):
    """A saved segment with its live count."""

    id: int = Field(description="the segment's id (a shot's segment_id)")
    bot_slug: str = Field(description="the bot whose contacts it selects")
    name: str = Field(description=_NAME)
    filter: dict[str, Any] = Field(description=_FILTER)
    count: int = Field(description="reachable contacts of the bot it matches now")
    created_at: datetime = Field(description="when it was saved")
    updated_at: datetime = Field(description="when it last changed")


class SegmentList(BaseModel):
    """A bot's segments, by name."""

    items: list[SegmentOut] = Field(description="the segments")


class EstimateIn(BaseModel):
    """An audience to count: a shot's target and recency, narrowed by a filter or a segment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bot_slug": "loja",
                    "target": "started",
                    "recency_days": 30,
                    "filter": _EXAMPLE_FILTER,
                }
            ]
        },
    )
    bot_slug: str = Field(min_length=1, description="the bot")
    target: Target = Field(description="started or pix_created")
    recency_days: int | None = Field(
        default=None, ge=1, le=3650, description="interacted in the last N days"
    )
    filter: dict[str, Any] | None = Field(
        default=None, description=_FILTER + "; not with segment_id"
    )
    segment_id: int | None = Field(
        default=None, ge=1, le=ID_LIMIT, description="a saved segment of the bot"
    )
    ignore_frequency_cap: bool = Field(
        default=False, description="count as a shot that ignores the cap"
    )
    copy_text: str | None = Field(
        default=None,
        alias="copy",
        description="a copy with personal variables: the answer then says who lacks which value "
        "and how many copies would be too long",
    )
    buttons: ButtonRows | None = Field(
        default=None, description="the buttons (their URLs' variables)"
    )
    media_type: MediaType = Field(default=MediaType.NONE, description="for the length limit")


class Exclusions(BaseModel):
    """Contacts of the target left out, each under the first rule that excludes it."""

    blocked: int = Field(description="blocked the bot")
    deactivated: int = Field(description="deleted their account")
    recency: int = Field(description="reachable, but no interaction within recency_days")
    filter: int = Field(description="recent enough, but the filter or segment does not match")
    frequency_cap: int = Field(description="matched, but over the bot's frequency cap now")


class EstimateOut(BaseModel):
    """How many contacts a shot would reach now, and who is left out by what."""

    bot_slug: str = Field(description="the bot")
    target: Target = Field(description="started or pix_created")
    recency_days: int | None = Field(description="the recency asked for, or null")
    count: int = Field(description="contacts the shot would reach now")
    excluded: Exclusions = Field(description="contacts of the target each rule leaves out")
    missing: dict[str, int] | None = Field(
        default=None,
        description="with copy: for each variable used without a fallback, the audience's "
        "contacts without a value (they get it rendered empty)",
    )
    too_long: int | None = Field(
        default=None,
        description="with copy: about how many of the audience's copies would pass Telegram's "
        "limit (those recipients get error too_long); counted in characters, so emoji in "
        "values may add a few",
    )


class TagCount(BaseModel):
    """A tag and how many of the bot's contacts carry it."""

    tag: str = Field(description="the tag")
    count: int = Field(description="contacts carrying it")


class TagList(BaseModel):
    """The bot's tags, most used first (at most 500)."""

    items: list[TagCount] = Field(description="the tags")


class TagApplyIn(BaseModel):
    """Put a tag on (or take it off) every contact of the bot a filter matches."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"tag": "quente", "filter": _EXAMPLE_FILTER}]},
    )
    tag: str = Field(description="the tag: 1–40 of a-z, 0-9, _ and -")
    filter: dict[str, Any] = Field(description=_FILTER + " (any contact state)")
    remove: bool = Field(default=False, description="take the tag off instead")


class TagApplyOut(BaseModel):
    """What a bulk tag change did."""

    tag: str = Field(description="the tag")
    changed: int = Field(description="contacts that gained (or, with remove, lost) the tag")


AttributeValue = str | int | float | bool | None


class ContactPatch(BaseModel):
    """Tags to add to and remove from one contact, and custom attributes to set."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"add_tags": ["vip"], "remove_tags": ["lead"], "attributes": {"plano": "anual"}}
            ]
        },
    )
    add_tags: list[str] = Field(default_factory=list, max_length=100, description="tags to add")
    remove_tags: list[str] = Field(
        default_factory=list, max_length=100, description="tags to remove"
    )
    attributes: dict[str, AttributeValue] | None = Field(
        default=None,
        description=(
            "custom values read as {attr.<key>} in a shot: merged into the contact's (a null "
            "value removes the key); keys 1–40 of A-Z a-z 0-9 _, values text, number or boolean"
        ),
    )


class ContactOut(BaseModel):
    """A contact's tags and attributes after a change."""

    telegram_id: int = Field(description="the contact")
    tags: list[str] = Field(description="its tags, sorted")
    attributes: dict[str, AttributeValue] = Field(description="its custom attributes")


class ContactFound(BaseModel):
    """A contact found by a search."""

    telegram_id: int = Field(description="the contact")
    first_name: str | None = Field(description="as Telegram gave it")
    last_name: str | None = Field(description="as Telegram gave it")
    username: str | None = Field(description="without the @")


class ContactSearch(BaseModel):
    """Contacts matching a search, latest interaction first."""

    items: list[ContactFound] = Field(description="the contacts found")
