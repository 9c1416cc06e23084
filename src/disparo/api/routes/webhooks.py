"""Outgoing webhooks: register receivers of events (shots, contacts, conversions), remove them,
and see each one's deliveries. Events are signed with a secret shown only at creation."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from disparo.api.deps import DB, MAX_ID, Cipher, Now
from disparo.api.errors import BODY_ERRORS, ERROR_RESPONSES, described, invalid, not_found
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.views import CURSOR_DOC, page_cursor
from disparo.api.webhook_schemas import (
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookIn,
    WebhookList,
    WebhookOut,
)
from disparo.db import webhooks as webhook_queries
from disparo.db.bots import bot_exists
from disparo.db.webhooks import DeliveryRecord, EndpointRecord
from disparo.domain.webhooks import EVENT_TYPES, events_text, url_problem

log = logging.getLogger("disparo.api.webhooks")

router = APIRouter(
    prefix=ADMIN_PREFIX + "/webhooks",
    tags=["webhooks"],
    responses=ERROR_RESPONSES,
    dependencies=ADMIN,
)
WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="the endpoint's id")]
_NOT_FOUND = described(404, "no such endpoint")
_MAX_PAGE = 100


def _out(endpoint: EndpointRecord) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.events,
        bot_slug=endpoint.bot_slug,
        created_at=endpoint.created_at,
    )


def _delivery_out(delivery: DeliveryRecord) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=delivery.event_id,
        type=delivery.type,
        created_at=delivery.created_at,
        data=delivery.data,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_attempt_at=delivery.last_attempt_at,
        last_status=delivery.last_status,
        last_response=delivery.last_response,
        last_error=delivery.last_error,
    )


def _checked_events(events: list[str]) -> str:
    accepted = ", ".join(EVENT_TYPES)
    if not events:
        raise invalid("events", f"events is empty; give at least one of: {accepted}")
    for position, event in enumerate(events):
        if event not in EVENT_TYPES:
            raise invalid(
                f"events.{position}", f"'{event}' is not an event type; use one of: {accepted}"
            )
    return events_text(events)


@router.get("", summary="Webhook endpoints")
async def list_webhooks(db: DB) -> WebhookList:
    """Every endpoint, oldest first (secrets are never shown again)."""
    async with db.read() as conn:
        found = await webhook_queries.list_endpoints(conn)
    return WebhookList(items=[_out(endpoint) for endpoint in found])


@router.post("", status_code=201, summary="Register a webhook endpoint", responses=BODY_ERRORS)
async def create_webhook(body: WebhookIn, db: DB, cipher: Cipher, now: Now) -> WebhookCreated:
    """Events of the chosen types (of one bot, or every bot) are POSTed to `url`, signed with
    the `secret` of this answer: the only time it is shown."""
    url = body.url.strip()
    problem = url_problem(url)
    if problem is not None:
        raise invalid("url", f"url {problem}")
    events = _checked_events(body.events)
    secret = webhook_queries.new_signing_secret()
    async with db.write() as conn:
        if body.bot_slug is not None and not await bot_exists(conn, body.bot_slug):
            raise invalid(
                "bot_slug", f"no bot is registered as '{body.bot_slug}'; null sends every bot's"
            )
        endpoint = await webhook_queries.insert_endpoint(
            conn, cipher, url=url, events=events, bot_slug=body.bot_slug, secret=secret, now=now
        )
    log.info("webhook endpoint registered", extra={"endpoint_id": endpoint.id})
    return WebhookCreated(**_out(endpoint).model_dump(), secret=secret)


@router.delete("/{webhook_id}", status_code=204, summary="Remove an endpoint", responses=_NOT_FOUND)
async def delete_webhook(webhook_id: WebhookId, db: DB) -> Response:
    """It receives nothing more; its deliveries, pending ones too, are removed with it."""
    async with db.write() as conn:
        if not await webhook_queries.delete_endpoint(conn, webhook_id):
            raise not_found(f"webhook endpoint {webhook_id}")
    log.info("webhook endpoint removed", extra={"endpoint_id": webhook_id})
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", summary="An endpoint's deliveries", responses=_NOT_FOUND)
async def list_webhook_deliveries(
    webhook_id: WebhookId,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=_MAX_PAGE, description="page size, 1–100")] = 20,
    cursor: Annotated[str | None, Query(**CURSOR_DOC)] = None,
) -> WebhookDeliveryPage:
    """Newest first: each event's status, attempts, last answer and next try; follow
    `next_cursor` for older ones."""
    before_id = page_cursor(cursor)
    async with db.read() as conn:
        if await webhook_queries.get_endpoint(conn, webhook_id) is None:
            raise not_found(f"webhook endpoint {webhook_id}")
        found = await webhook_queries.list_deliveries(
            conn, webhook_id, before_id=before_id, limit=limit + 1
        )
    page = found[:limit]
    next_cursor = str(page[-1].id) if len(found) > limit else None
    return WebhookDeliveryPage(items=[_delivery_out(d) for d in page], next_cursor=next_cursor)
