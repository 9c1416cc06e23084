"""Response and request bodies of the contacts routes: the table, one contact's story, and
deleting contacts by filter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from disparo.api.audience_schemas import AttributeValue
from disparo.api.schemas import ID_LIMIT

_FILTER = (
    "a filter tree (docs/api.md, Audience filters), e.g. {all: [{tag: vip}, {not: {paid: {}}}]}"
)


class ContactLine(BaseModel):
    """One contact as the table shows it."""

    telegram_id: int = Field(description="the contact")
    first_name: str | None = Field(description="as Telegram gave it")
    last_name: str | None = Field(description="as Telegram gave it")
    username: str | None = Field(description="without the @")
    language_code: str | None = Field(description="the language Telegram reported")
    chat_state: str = Field(description="active, blocked or deactivated")
    tags: list[str] = Field(description="its tags, sorted")
    started_at: datetime | None = Field(description="its last /start")
    last_interaction_at: datetime | None = Field(description="its last message or button press")
    blocked_at: datetime | None = Field(description="when it blocked the bot or was deactivated")
    has_pix: bool = Field(description="it generated a PIX (event or payment)")
    total_paid_cents: int = Field(description="the sum of its paid payments, in cents")


class ContactPage(BaseModel):
    """A page of the bot's contacts."""

    items: list[ContactLine] = Field(description="the contacts of this page, in the sort asked")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at end")


class EventOut(BaseModel):
    """A funnel event."""

    event: str = Field(description="its name")
    occurred_at: datetime = Field(description="when it happened")


class PaymentOut(BaseModel):
    """A payment."""

    external_id: str = Field(description="the payment system's id")
    status: str = Field(description="created, paid, expired, refunded, ...")
    amount_cents: int = Field(description="the amount, in cents")
    currency: str = Field(description="ISO 4217 code")
    created_at: datetime = Field(description="when it was generated")
    paid_at: datetime | None = Field(description="when it was paid")


class DeliveryOut(BaseModel):
    """One shot the contact was in, and what happened."""

    shot_id: int = Field(description="the shot")
    copy_snippet: str = Field(description="the start of the shot's copy (80 characters)")
    shot_status: str = Field(description="the shot's status")
    scheduled_at: datetime = Field(description="when the shot was due")
    status: str = Field(description="this delivery's status: sent, skipped, error, ...")
    reason: str | None = Field(description="why it was skipped (blocked, quiet_hours, ...)")
    error: str | None = Field(description="Telegram's description, when it failed")
    variant: str | None = Field(description="the A/B variant or holdout it was assigned")
    sent_at: datetime | None = Field(description="when Telegram accepted the message")
    updated_at: datetime | None = Field(description="when the outcome was recorded")
    clicked: bool = Field(description="it clicked a tracked link of the shot")
    replied: bool = Field(description="it replied after the shot")
    converted_at: datetime | None = Field(description="its first conversion after the shot")


class EventList(BaseModel):
    """The newest events and how many there are."""

    items: list[EventOut] = Field(description="newest first, at most 200")
    total: int = Field(description="how many the contact has")


class PaymentList(BaseModel):
    """The newest payments and how many there are."""

    items: list[PaymentOut] = Field(description="newest first, at most 200")
    total: int = Field(description="how many the contact has")


class DeliveryList(BaseModel):
    """The newest shots the contact was in and how many there are."""

    items: list[DeliveryOut] = Field(description="newest shot first, at most 200")
    total: int = Field(description="how many shots the contact was in")


class ContactStory(BaseModel):
    """One contact: its fields, state times, tags, attributes, events, payments and shots."""

    contact: ContactLine = Field(description="its fields, as the table shows them")
    attributes: dict[str, AttributeValue] = Field(description="its custom attributes")
    updated_at: datetime = Field(description="when its row last changed")
    events: EventList = Field(description="its funnel events")
    payments: PaymentList = Field(description="its payments")
    shots: DeliveryList = Field(description="every shot it was in, with the outcome")


class ContactsDeleteIn(BaseModel):
    """Delete every contact a filter matches, if they are still as many as the page showed."""

    model_config = ConfigDict(extra="forbid")
    filter: dict[str, Any] = Field(description=_FILTER)
    expected_count: int = Field(
        ge=0, le=ID_LIMIT, description="the count the operator confirmed; 409 if it changed"
    )


class ContactsDeleted(BaseModel):
    """How many contacts were deleted."""

    deleted: int = Field(description="the contacts deleted, with their events and payments")
