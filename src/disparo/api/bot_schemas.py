"""Request and response bodies of the bot, metrics, webhook and import routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from disparo.domain.pacing import MAX_PAID_RATE_PER_S, MAX_RATE_PER_S
from disparo.domain.tags import TagsMode

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

_RATE = (
    f"messages per second for this bot: 1–{MAX_RATE_PER_S}, or up to {MAX_PAID_RATE_PER_S} "
    "with paid_broadcast"
)
_PAID = f"Telegram paid broadcasts enabled for this bot (allows rate_per_s above {MAX_RATE_PER_S})"
_TIMEZONE = "IANA time zone of the bot's audience, such as America/Sao_Paulo"
_POLLING = "fetch updates with getUpdates instead of a webhook (no public URL needed)"
_CAP_MAX = (
    "frequency cap: at most this many shots delivered to one contact within cap_window_hours "
    "(1–1000; null with cap_window_hours for no cap); recipients over it are skipped "
    "(frequency_cap) unless the shot sets ignore_frequency_cap"
)
_CAP_WINDOW = "frequency cap window in hours (1–8760); set together with max_shots_per_contact"
_QUIET = (
    "quiet hours in the bot's time zone, such as {start: 22:00, end: 08:00}: nothing is sent "
    "inside them, running shots wait for their end; null for none"
)


class QuietHoursIn(BaseModel):
    """A daily span of the bot's local time in which nothing is sent."""

    model_config = ConfigDict(extra="forbid")
    start: str = Field(description="HH:MM (24 h), the bot's time zone", examples=["22:00"])
    end: str = Field(
        description="HH:MM (24 h); before start means the next day", examples=["08:00"]
    )


class BotCreate(BaseModel):
    """A bot to register; the token is checked with Telegram's getMe."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "loja",
                    "token": "123456789:TTE-example-token-from-BotFather-xyz",
                    "name": "Loja",
                    "rate_per_s": 25,
                    "timezone": "America/Sao_Paulo",
                }
            ]
        },
    )
    slug: str = Field(
        pattern=SLUG_PATTERN,
        description="the bot's name in Disparo: lower-case letters, digits, - and _ (1–63)",
    )
    token: SecretStr = Field(description="the token @BotFather gave; never shown again")
    name: str | None = Field(default=None, max_length=200, description="a label for people")
    rate_per_s: int = Field(default=25, ge=1, le=MAX_PAID_RATE_PER_S, description=_RATE)
    paid_broadcast: bool = Field(default=False, description=_PAID)
    timezone: str = Field(default="America/Sao_Paulo", description=_TIMEZONE)
    polling: bool = Field(default=False, description=_POLLING)
    max_shots_per_contact: int | None = Field(default=None, ge=1, le=1000, description=_CAP_MAX)
    cap_window_hours: int | None = Field(default=None, ge=1, le=8760, description=_CAP_WINDOW)
    quiet_hours: QuietHoursIn | None = Field(default=None, description=_QUIET)


class BotPatch(BaseModel):
    """Changes to a bot; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"rate_per_s": 20, "polling": True}]}
    )
    token: SecretStr | None = Field(
        default=None, description="a new token of the same bot (checked with getMe)"
    )
    name: str | None = Field(default=None, max_length=200, description="a label for people")
    rate_per_s: int | None = Field(default=None, ge=1, le=MAX_PAID_RATE_PER_S, description=_RATE)
    paid_broadcast: bool | None = Field(default=None, description=_PAID)
    timezone: str | None = Field(default=None, description=_TIMEZONE)
    polling: bool | None = Field(default=None, description=_POLLING)
    max_shots_per_contact: int | None = Field(default=None, ge=1, le=1000, description=_CAP_MAX)
    cap_window_hours: int | None = Field(default=None, ge=1, le=8760, description=_CAP_WINDOW)
    quiet_hours: QuietHoursIn | None = Field(default=None, description=_QUIET)


class BotOut(BaseModel):
    """A registered bot; its token is masked."""

    slug: str = Field(description="the bot's name in Disparo")
    name: str | None = Field(description="a label for people")
    token: str = Field(description="masked: the bot id and ****", examples=["123456:****"])
    telegram_bot_id: int | None = Field(description="the bot's Telegram user id (from getMe)")
    telegram_username: str | None = Field(description="the bot's @username (from getMe)")
    rate_per_s: int = Field(description=_RATE)
    paid_broadcast: bool = Field(description=_PAID)
    timezone: str = Field(description=_TIMEZONE)
    polling: bool = Field(description=_POLLING)
    max_shots_per_contact: int | None = Field(description=_CAP_MAX)
    cap_window_hours: int | None = Field(description=_CAP_WINDOW)
    quiet_hours: QuietHoursIn | None = Field(description=_QUIET)
    created_at: datetime = Field(description="when it was registered")
    updated_at: datetime = Field(description="when its settings last changed")


class BotList(BaseModel):
    """Every registered bot."""

    items: list[BotOut] = Field(description="the bots, by slug")


class ContactChanges(BaseModel):
    """How the bot's contacts changed over the last 24 hours."""

    started: int = Field(description="contacts who pressed /start")
    blocked: int = Field(description="contacts who blocked the bot")
    deactivated: int = Field(description="contacts found deactivated")
    active: int = Field(description="reachable contacts now minus 24 h ago (may be negative)")


class BotMetrics(BaseModel):
    """The metrics card of a bot: its contacts by state."""

    bot_slug: str = Field(description="the bot")
    total: int = Field(description="every contact of the bot")
    active: int = Field(description="contacts the bot can message")
    blocked: int = Field(description="contacts who blocked the bot")
    deactivated: int = Field(description="contacts whose account was deleted")
    change_24h: ContactChanges = Field(description="changes over the last 24 hours")


class WebhookOut(BaseModel):
    """Where Telegram now sends the bot's updates."""

    bot_slug: str = Field(description="the bot")
    url: str = Field(description="the URL Telegram now POSTs the bot's updates to")


class WebhookSecretRotated(BaseModel):
    """The bot's new webhook secret is in force; it is never shown."""

    bot_slug: str = Field(description="the bot")
    webhook_url: str | None = Field(
        description="the URL the webhook was registered at again, with the new secret; null "
        "when the bot is set to polling or DISPARO_PUBLIC_URL is not set (no webhook to update)"
    )


class Rejection(BaseModel):
    """One input row that was not imported."""

    line: int = Field(description="1-based line of the input (CSV: the header is line 1)")
    field: str | None = Field(description="the offending column, when one is to blame")
    reason: str = Field(description="what is wrong with the row")


class ImportResult(BaseModel):
    """What an import did."""

    inserted: int = Field(description="rows that were new")
    updated: int = Field(description="rows that matched an existing one and updated it")
    rejected: int = Field(description="rows refused; see rejections")
    rejections: list[Rejection] = Field(description="the first 1000 refused rows, with why")
    tags_mode: TagsMode | None = Field(
        default=None,
        description="contacts: how rows' tags were applied (add or replace); null for the others",
    )
