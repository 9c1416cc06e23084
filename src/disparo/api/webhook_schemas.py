"""Request and response bodies of the outgoing webhook routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from disparo.domain.webhooks import EVENT_TYPES

_EVENTS = "the event types it receives: " + ", ".join(EVENT_TYPES)
_BOT = "only this bot's events; null for every bot's"
_URL = "where events are POSTed: https (http only to localhost, 127.0.0.1 or ::1)"


class WebhookIn(BaseModel):
    """A receiver of events."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example.com/hooks/disparo",
                    "events": ["shot.finished", "contact.blocked", "conversion"],
                    "bot_slug": "loja",
                }
            ]
        },
    )
    url: str = Field(description=_URL)
    events: list[str] = Field(description=_EVENTS)
    bot_slug: str | None = Field(default=None, description=_BOT)


class WebhookOut(BaseModel):
    """A registered receiver (its signing secret is shown only when it is created)."""

    id: int = Field(description="the endpoint's id")
    url: str = Field(description=_URL)
    events: list[str] = Field(description=_EVENTS)
    bot_slug: str | None = Field(description=_BOT)
    created_at: datetime = Field(description="when it was registered")


class WebhookCreated(WebhookOut):
    """A new receiver, with its signing secret: shown this once, never again."""

    secret: str = Field(
        description="the key of the Disparo-Signature HMAC; store it now, it is never shown again"
    )


class WebhookList(BaseModel):
    """Every receiver, oldest first."""

    items: list[WebhookOut] = Field(description="the endpoints")


class WebhookDeliveryOut(BaseModel):
    """One event for one endpoint, and where its delivery stands."""

    id: str = Field(description="the idempotency id the receiver sees (body `id`)")
    type: str = Field(description="the event type")
    created_at: datetime = Field(description="when the event happened")
    data: Any = Field(description="the event's data, as sent")
    status: str = Field(description="pending, delivered or failed (retries ran out after 24 h)")
    attempts: int = Field(description="POSTs tried so far")
    next_attempt_at: datetime | None = Field(description="when it is tried next (pending only)")
    last_attempt_at: datetime | None = Field(description="when it was last tried")
    last_status: int | None = Field(description="the HTTP status of the last answer, if any")
    last_response: str | None = Field(description="the start of the last answer's body")
    last_error: str | None = Field(description="why the last try got no answer (timeout, ...)")


class WebhookDeliveryPage(BaseModel):
    """A page of an endpoint's deliveries, newest first."""

    items: list[WebhookDeliveryOut] = Field(description="the deliveries")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at end")
