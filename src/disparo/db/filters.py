"""Audience filters as SQL: a parsed filter tree (domain/filters.py) becomes a condition over
`telegram_contacts`, each leaf a correlated EXISTS (or scalar) probe of one contact's rows.

Every probe is an index range: contact_tags' primary key (bot_slug, tag, telegram_id),
idx_funnel_events_audience (bot_slug, event, telegram_id), idx_payment_transactions_audience
(bot_slug, status, telegram_id) and idx_shots_sent_contact (bot_slug, telegram_id, sent_at).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true

from disparo.db.tables import (
    contact_tags,
    funnel_events,
    payment_transactions,
    shots_sent,
    telegram_contacts,
)
from disparo.domain import filters as f
from disparo.domain.statuses import PIX_EVENTS, DeliveryStatus, PaymentStatus

contacts = telegram_contacts.c
events = funnel_events.c
payments = payment_transactions.c
PAID = PaymentStatus.PAID.value
# Every payment status: a payment of any status is a PIX that was generated.
PAYMENT_STATUSES = tuple(s.value for s in PaymentStatus)


def _mine(
    table_bot_slug: ColumnElement[str], table_telegram_id: ColumnElement[int]
) -> list[ColumnElement[bool]]:
    return [table_bot_slug == contacts.bot_slug, table_telegram_id == contacts.telegram_id]


def _tagged(tag: str) -> ColumnElement[bool]:
    t = contact_tags.c
    return (
        exists()
        .where(t.bot_slug == contacts.bot_slug, t.tag == tag)
        .where(t.telegram_id == contacts.telegram_id)
    )


def _pix_since(since: datetime | None) -> ColumnElement[bool]:
    """A PIX funnel event, or a payment of any status, (at or after `since`)."""
    event = exists().where(
        *_mine(events.bot_slug, events.telegram_id), events.event.in_(PIX_EVENTS)
    )
    payment = exists().where(
        *_mine(payments.bot_slug, payments.telegram_id), payments.status.in_(PAYMENT_STATUSES)
    )
    if since is not None:
        event = event.where(events.occurred_at >= since)
        payment = payment.where(payments.created_at >= since)
    return or_(event, payment)


def _paid(node: f.Paid, now: datetime) -> ColumnElement[bool]:
    query = exists().where(*_mine(payments.bot_slug, payments.telegram_id), payments.status == PAID)
    if node.min_cents is not None:
        query = query.where(payments.amount_cents >= node.min_cents)
    if node.max_cents is not None:
        query = query.where(payments.amount_cents <= node.max_cents)
    if node.within_days is not None:
        paid_at = func.coalesce(payments.paid_at, payments.created_at)
        query = query.where(paid_at >= now - timedelta(days=node.within_days))
    return query


def _total_paid(node: f.TotalPaid) -> ColumnElement[bool]:
    total = func.coalesce(
        select(func.sum(payments.amount_cents))
        .where(*_mine(payments.bot_slug, payments.telegram_id), payments.status == PAID)
        .scalar_subquery(),
        0,
    )
    conditions = []
    if node.min_cents is not None:
        conditions.append(total >= node.min_cents)
    if node.max_cents is not None:
        conditions.append(total <= node.max_cents)
    return and_(*conditions)


def _event(node: f.Event, now: datetime) -> ColumnElement[bool]:
    query = exists().where(*_mine(events.bot_slug, events.telegram_id), events.event == node.name)
    if node.within_days is not None:
        query = query.where(events.occurred_at >= now - timedelta(days=node.within_days))
    return query


def _language(node: f.Language) -> ColumnElement[bool]:
    code = func.lower(contacts.language_code)
    matches = or_(*(or_(code == c, code.like(f"{c}-%")) for c in node.codes))
    return _known(contacts.language_code, matches)


def _known(column: ColumnElement[object], condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """`condition`, false (never NULL) when `column` is NULL, so that `not` takes the contacts
    the field is unknown for."""
    return and_(column.is_not(None), condition)


def sent_count_since(since: datetime) -> ColumnElement[int]:
    """How many deliveries of the bot's shots were sent to the contact at or after `since`."""
    sent = shots_sent.c
    return (
        select(func.count())
        .where(*_mine(sent.bot_slug, sent.telegram_id), sent.sent_at >= since)
        .scalar_subquery()
    )


def received_since(since: datetime) -> ColumnElement[bool]:
    """The contact was sent a delivery of any shot of the bot at or after `since`."""
    sent = shots_sent.c
    return exists().where(
        *_mine(sent.bot_slug, sent.telegram_id),
        sent.sent_at >= since,
        sent.status == DeliveryStatus.SENT.value,
    )


def filter_condition(node: f.Filter, *, now: datetime) -> ColumnElement[bool]:
    """The condition over `telegram_contacts` that keeps the contacts `node` matches at `now`."""
    match node:
        case f.AllOf(items):
            return and_(true(), *(filter_condition(item, now=now) for item in items))
        case f.AnyOf(items):
            return or_(false(), *(filter_condition(item, now=now) for item in items))
        case f.Not(item):
            return not_(filter_condition(item, now=now))
        case f.Tag(tag):
            return _tagged(tag)
        case f.LastPix(days, older):
            recent = _pix_since(now - timedelta(days=days))
            return and_(_pix_since(None), not_(recent)) if older else recent
        case f.Paid():
            return _paid(node, now)
        case f.TotalPaid():
            return _total_paid(node)
        case f.Event():
            return _event(node, now)
        case f.Language():
            return _language(node)
        case f.Started(days):
            since = now - timedelta(days=days)
            return _known(contacts.started_at, contacts.started_at >= since)
        case f.Interacted(days):
            since = now - timedelta(days=days)
            return _known(contacts.last_interaction_at, contacts.last_interaction_at >= since)
        case f.ReceivedShot(hours):
            return received_since(now - timedelta(hours=hours))
    raise TypeError(f"not a filter node: {node!r}")  # pragma: no cover - the union is closed
