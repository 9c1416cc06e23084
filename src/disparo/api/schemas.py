"""Request and response bodies of the shot routes (the spec's field names are the contract)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from disparo.api.button_schemas import Button, ButtonRows
from disparo.api.experiment_schemas import (
    CONVERSIONS_DOC,
    HOLDOUT_DOC,
    VARIANTS_DOC,
    WINNER_DOC,
    GoalIn,
    GoalOut,
    VariantIn,
    VariantOut,
    WinnerIn,
)
from disparo.domain.statuses import DeliveryStatus, MediaType, ShotStatus, StopOn, Target

__all__ = ["Button", "ButtonRows"]

_COPY = (
    "the message, Telegram HTML (parse_mode=HTML): at most 4096 characters, or 1024 when it is "
    "the caption of a photo or video"
)
_MEDIA_URL = "http(s) URL of the media; required exactly when media_type is not none"
_SCHEDULED = (
    "when to send: ISO 8601 with an offset (2026-12-01T09:00:00-03:00); a time without an "
    "offset is refused. Defaults to now"
)
_RECENCY = "only contacts who interacted in the last N days (1–3650); null for everyone"
_BUTTONS = (
    "inline keyboard: a list of rows, each a list of buttons {text, url}; url is http(s):// "
    "or tg://"
)
_FILTER = (
    "narrows the audience: a filter tree such as {all: [{tag: vip}, {not: {paid: {}}}]} "
    "(see docs/api.md, Audience filters); not with segment_id"
)
_SEGMENT = "narrows the audience to a saved segment of the same bot (its filter as it is when "
_SEGMENT += "the shot starts); not with filter"
_EXPIRES = (
    "ISO 8601 with an offset: whatever is unsent by then is skipped (reason expired) and the "
    "shot ends with status expired; after scheduled_at"
)
_STOP_ON = (
    "pix_created or paid: recipients who did that after the shot was created are skipped "
    "(reason converted)"
)
_IGNORE_CAP = "send even to contacts over the bot's frequency cap (service messages)"
_VARIABLES = (
    "; may hold personal variables such as {first_name|amigo} (docs/api.md, Templates and "
    "personal variables); required unless from_template gives it"
)
_FROM_TEMPLATE = (
    "a template's id: its copy, media and buttons are copied into the shot (fields given here "
    "win); later edits of the template never change the shot"
)
_ACCEPT_TOO_LONG = (
    "send even if some recipients' values could make the copy pass Telegram's limit: those "
    "recipients get error too_long"
)


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


UTCTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]

# Telegram's ids have at most 52 significant bits. A bound OpenAPI can state exactly: FastAPI
# writes numeric bounds as floats, and 2**63 - 1 does not survive that.
TELEGRAM_ID_LIMIT = 2**53 - 1
ID_LIMIT = 2**53 - 1  # a row's id in a body (segment_id, from_template), bounded the same way

_TRACK_CLICKS = (
    "count clicks: with DISPARO_PUBLIC_URL set, its URL buttons go through {public}/r/{code}, "
    "which records the click and redirects to the stored URL (default true)"
)
_TRACK_COPY_LINKS = "also the links (<a href>) of the copy (default false)"


class ShotCreate(BaseModel):
    """A new shot."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bot_slug": "loja",
                    "target": "pix_created",
                    "copy": "<b>Seu PIX expira hoje!</b> Garanta o desconto.",
                    "media_type": "none",
                    "scheduled_at": "2026-12-01T09:00:00-03:00",
                    "recency_days": 7,
                    "buttons": [[{"text": "Pagar", "url": "https://example.com/pix"}]],
                }
            ]
        },
    )
    bot_slug: str = Field(min_length=1, description="the bot that sends it")
    target: Target = Field(description="started (pressed /start) or pix_created (made a PIX)")
    copy_text: str | None = Field(default=None, alias="copy", description=_COPY + _VARIABLES)
    media_url: str | None = Field(default=None, description=_MEDIA_URL)
    media_type: MediaType | None = Field(
        default=None, description="photo, video, audio, none (default none)"
    )
    from_template: int | None = Field(default=None, ge=1, le=ID_LIMIT, description=_FROM_TEMPLATE)
    accept_too_long: bool = Field(default=False, description=_ACCEPT_TOO_LONG)
    scheduled_at: UTCTime | None = Field(default=None, description=_SCHEDULED)
    recency_days: int | None = Field(default=None, ge=1, le=3650, description=_RECENCY)
    buttons: ButtonRows | None = Field(default=None, description=_BUTTONS)
    filter: dict[str, Any] | None = Field(default=None, description=_FILTER)
    segment_id: int | None = Field(default=None, ge=1, le=ID_LIMIT, description=_SEGMENT)
    expires_at: UTCTime | None = Field(default=None, description=_EXPIRES)
    stop_on: StopOn | None = Field(default=None, description=_STOP_ON)
    ignore_frequency_cap: bool = Field(default=False, description=_IGNORE_CAP)
    variants: list[VariantIn] | None = Field(default=None, description=VARIANTS_DOC)
    holdout_percent: int = Field(default=0, ge=0, le=50, description=HOLDOUT_DOC)
    conversions: list[GoalIn] | None = Field(default=None, description=CONVERSIONS_DOC)
    winner: WinnerIn | None = Field(default=None, description=WINNER_DOC)
    track_clicks: bool = Field(default=True, description=_TRACK_CLICKS)
    track_copy_links: bool = Field(default=False, description=_TRACK_COPY_LINKS)


class ShotPatch(BaseModel):
    """Changes to a pending shot; fields left out stay as they are, null clears an optional one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"scheduled_at": "2026-12-02T09:00:00-03:00"}]},
    )
    copy_text: str | None = Field(default=None, alias="copy", description=_COPY)
    media_url: str | None = Field(default=None, description=_MEDIA_URL)
    media_type: MediaType | None = Field(default=None, description="photo, video, audio, none")
    accept_too_long: bool = Field(default=False, description=_ACCEPT_TOO_LONG)
    scheduled_at: UTCTime | None = Field(default=None, description=_SCHEDULED)
    recency_days: int | None = Field(default=None, ge=1, le=3650, description=_RECENCY)
    buttons: ButtonRows | None = Field(default=None, description=_BUTTONS)
    filter: dict[str, Any] | None = Field(default=None, description=_FILTER)
    segment_id: int | None = Field(default=None, ge=1, le=ID_LIMIT, description=_SEGMENT)
    expires_at: UTCTime | None = Field(default=None, description=_EXPIRES)
    stop_on: StopOn | None = Field(default=None, description=_STOP_ON)
    ignore_frequency_cap: bool | None = Field(default=None, description=_IGNORE_CAP)
    variants: list[VariantIn] | None = Field(default=None, description=VARIANTS_DOC)
    holdout_percent: int | None = Field(default=None, ge=0, le=50, description=HOLDOUT_DOC)
    conversions: list[GoalIn] | None = Field(default=None, description=CONVERSIONS_DOC)
    winner: WinnerIn | None = Field(default=None, description=WINNER_DOC)
    track_clicks: bool | None = Field(default=None, description=_TRACK_CLICKS)
    track_copy_links: bool | None = Field(default=None, description=_TRACK_COPY_LINKS)


class DeliveryCounts(BaseModel):
    """How far a shot got: its deliveries by status."""

    total: int = Field(description="recipients in the snapshot (0 until the shot starts)")
    pending: int = Field(description="not yet sent")
    sending: int = Field(description="reserved, request in flight")
    sent: int = Field(description="delivered, Telegram gave a message_id")
    skipped: int = Field(description="not sent: blocked, deactivated, chat not found, ...")
    error: int = Field(description="Telegram refused the message")
    unknown: int = Field(description="the request may or may not have arrived; never retried")
    holdout: int = Field(
        default=0, description="holdout members passed: never sent anything, measured only"
    )
    progress: float = Field(ge=0, le=1, description="finished deliveries / total, 0..1")
    audience_complete: bool = Field(
        default=True,
        description="false while a large audience is still being written (its first "
        "recipients are sent meanwhile): `total` counts those written so far and grows",
    )


class ShotOut(BaseModel):
    """A shot, with its delivery counts."""

    model_config = ConfigDict(serialize_by_alias=True)
    id: int = Field(description="the shot's id")
    bot_slug: str = Field(description="the bot that sends it")
    target: Target = Field(description="started or pix_created")
    recency_days: int | None = Field(description="audience limited to the last N days, or null")
    copy_text: str = Field(alias="copy", description="the message (Telegram HTML)")
    media_url: str | None = Field(description="the media's URL, null without media")
    media_type: MediaType = Field(description="photo, video, audio or none")
    buttons: Any = Field(description=_BUTTONS)
    scheduled_at: datetime = Field(description="when it is due, ISO 8601 UTC")
    status: ShotStatus = Field(
        description="pending, running, paused, sent, skipped, error, cancelled or expired"
    )
    attempt_count: int = Field(description="how many times a worker started it (at most 3)")
    last_error: str | None = Field(description="why it stopped with status error")
    started_at: datetime | None = Field(description="when sending began")
    finished_at: datetime | None = Field(description="when it ended (sent, error, cancelled)")
    created_at: datetime = Field(description="when it was created")
    updated_at: datetime = Field(description="when it last changed")
    filter: dict[str, Any] | None = Field(description=_FILTER)
    segment_id: int | None = Field(description=_SEGMENT)
    expires_at: datetime | None = Field(description=_EXPIRES)
    stop_on: StopOn | None = Field(description=_STOP_ON)
    ignore_frequency_cap: bool = Field(description=_IGNORE_CAP)
    templated: bool = Field(
        description="copy and button URLs are in template syntax (variables, {{ }}); false only "
        "for shots created before templates existed, which are sent exactly as stored"
    )
    quiet_until: datetime | None = Field(
        description="the shot is due but waits for the bot's quiet hours to end at this time"
    )
    variants: list[VariantOut] = Field(description=VARIANTS_DOC + " (empty: one message)")
    holdout_percent: int = Field(description=HOLDOUT_DOC)
    conversions: list[GoalOut] = Field(description=CONVERSIONS_DOC)
    winner: dict[str, Any] | None = Field(description=WINNER_DOC)
    winner_decision: dict[str, Any] | None = Field(
        description="winner mode's decision once taken: winner, reason (significant, "
        "not_significant, too_few), each variant's rate and test recipients, the difference "
        "with its interval, decided_at; before it, test_ended_at and decide_at"
    )
    track_clicks: bool = Field(description=_TRACK_CLICKS)
    track_copy_links: bool = Field(description=_TRACK_COPY_LINKS)
    stats: DeliveryCounts = Field(description="its deliveries by status")


class ShotPage(BaseModel):
    """One page of a bot's shots, newest first."""

    items: list[ShotOut] = Field(description="the shots of this page")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at end")


class TimelinePoint(BaseModel):
    """Outcomes recorded in one time bucket (for a delivery-over-time chart)."""

    t: datetime = Field(description="start of the bucket, UTC")
    sent: int = Field(description="deliveries sent in the bucket")
    skipped: int = Field(description="deliveries skipped in the bucket")
    error: int = Field(description="deliveries refused in the bucket")
    unknown: int = Field(description="deliveries of unknown outcome in the bucket")
    holdout: int = Field(default=0, description="holdout members passed in the bucket")


class ShotStats(DeliveryCounts):
    """A shot's detailed statistics."""

    shot_id: int = Field(description="the shot's id")
    status: ShotStatus = Field(description="the shot's status")
    by_reason: dict[str, int] = Field(
        description="deliveries by reason: blocked, deactivated, chat_not_found, ...",
        examples=[{"blocked": 12, "deactivated": 1, "chat_not_found": 3}],
    )
    started_at: datetime | None = Field(description="when sending began")
    finished_at: datetime | None = Field(description="when it ended")
    rate_per_s: float = Field(description="deliveries finished in the last 10 s / 10")
    eta_s: float | None = Field(
        description="seconds left at the current rate; null unless running with its audience "
        "complete"
    )
    bucket_s: int = Field(description="width of each timeline bucket in seconds")
    timeline: list[TimelinePoint] = Field(description="outcomes over time, one point a bucket")


class DeliveryOut(BaseModel):
    """One recipient of a shot (a `shots_sent` row)."""

    telegram_id: int = Field(description="the recipient")
    status: DeliveryStatus = Field(description="pending, sending, sent, skipped, error, unknown")
    reason: str | None = Field(description="why it was skipped or failed: blocked, timeout, ...")
    error: str | None = Field(description="Telegram's description of the failure")
    message_id: int | None = Field(description="Telegram's id of the sent message")
    sent_at: datetime | None = Field(description="when Telegram accepted the message")
    updated_at: datetime | None = Field(description="when the outcome was recorded")


class DeliveryPage(BaseModel):
    """One page of a shot's deliveries, in send order."""

    items: list[DeliveryOut] = Field(description="the deliveries of this page")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at end")


class AudienceEstimate(BaseModel):
    """How many contacts a shot with this target would reach now."""

    bot_slug: str = Field(description="the bot")
    target: Target = Field(description="started or pix_created")
    recency_days: int | None = Field(description="the recency asked for, or null")
    count: int = Field(description="reachable contacts in that audience now")


class PreviewIn(BaseModel):
    """Where to send a shot's content now, as a preview."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"telegram_id": 42}]})
    telegram_id: int = Field(
        ge=-TELEGRAM_ID_LIMIT,
        le=TELEGRAM_ID_LIMIT,
        description="the chat (user id) that receives the preview",
    )
    variant: str | None = Field(
        default=None, max_length=32, description="send this variant's content (default: A's)"
    )


class PreviewOut(BaseModel):
    """Telegram's answer to the preview: the messages it created."""

    shot_id: int = Field(description="the shot previewed")
    telegram_id: int = Field(description="the chat it was sent to")
    messages: list[dict[str, Any]] = Field(description="Telegram Message objects, as returned")
