"""Request and response bodies of a shot's experiment: variants, holdout, conversion events and
winner mode (docs/api.md, A/B tests and conversions)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from disparo.api.button_schemas import ButtonRows
from disparo.domain.experiment import (
    DEFAULT_MIN_SAMPLE,
    DEFAULT_WINDOW_HOURS,
    MAX_GOALS,
    MAX_VARIANTS,
    MAX_WINDOW_HOURS,
    MIN_VARIANTS,
)
from disparo.domain.statuses import MediaType

EVENT_PATTERN = r"^[a-z0-9_.:-]{1,64}$"
_EVENT = (
    "pix_created (a PIX funnel event or a payment created), paid (a payment paid: its amount "
    "is the revenue) or the name of any funnel event"
)
VARIANTS_DOC = (
    f"{MIN_VARIANTS}–{MAX_VARIANTS} versions of the message, each sent to a share of the "
    "audience in proportion to its weight; the first is the fallback of winner mode"
)
HOLDOUT_DOC = (
    "0–50: this share of the audience is never sent anything but is measured like the others "
    "(the control group conversions are compared with)"
)
CONVERSIONS_DOC = (
    f"1–{MAX_GOALS} conversion events, the first the primary one; default "
    f'[{{"event": "paid", "window_hours": {DEFAULT_WINDOW_HOURS}}}]'
)
WINNER_DOC = (
    "winner mode: send the variants to test_percent of the audience, wait wait_hours, then "
    "send the variant with the best primary conversion rate to the rest (variant A when the "
    "difference is not significant or a variant has fewer than min_sample recipients)"
)


class VariantIn(BaseModel):
    """One version of a shot: everything it sends, and its weight."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=32, description="A, B, ...; not holdout")
    copy_text: str = Field(alias="copy", description="the message (Telegram HTML, variables)")
    media_type: MediaType = Field(default=MediaType.NONE, description="photo, video, audio, none")
    media_url: str | None = Field(default=None, description="required unless media_type is none")
    buttons: ButtonRows | None = Field(default=None, description="inline keyboard rows")
    weight: int = Field(default=1, ge=1, le=100, description="its share relative to the others")


class VariantOut(BaseModel):
    """One version of a shot, as stored."""

    model_config = ConfigDict(serialize_by_alias=True)
    name: str = Field(description="the variant's name")
    copy_text: str = Field(alias="copy", description="the message")
    media_type: MediaType = Field(description="photo, video, audio or none")
    media_url: str | None = Field(description="the media's URL")
    buttons: Any = Field(description="inline keyboard rows")
    weight: int = Field(description="its share relative to the others")


class GoalIn(BaseModel):
    """A conversion event and its window."""

    model_config = ConfigDict(extra="forbid")
    event: str = Field(pattern=EVENT_PATTERN, description=_EVENT)
    window_hours: int = Field(
        default=DEFAULT_WINDOW_HOURS,
        ge=1,
        le=MAX_WINDOW_HOURS,
        description="how long after the delivery the event counts (1–720 h)",
    )


class GoalOut(BaseModel):
    """A conversion event and its window, as stored."""

    event: str = Field(description=_EVENT)
    window_hours: int = Field(description="how long after the delivery the event counts")


class WinnerIn(BaseModel):
    """Winner mode's settings."""

    model_config = ConfigDict(extra="forbid")
    test_percent: int = Field(
        default=20, ge=5, le=50, description="the share of the audience the variants go to first"
    )
    wait_hours: int = Field(
        default=24, ge=1, le=168, description="how long after the test share's last delivery"
    )
    min_sample: int = Field(
        default=DEFAULT_MIN_SAMPLE,
        ge=10,
        le=1_000_000,
        description="each variant needs this many test recipients, or variant A goes",
    )
