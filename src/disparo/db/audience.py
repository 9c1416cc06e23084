"""Who a shot goes to: the `started` and `pix_created` audiences of a bot, counted or listed.

Both targets are the bot's reachable contacts (never blocked or deactivated), optionally only
those who interacted within `recency_days`, in send order: most recent interaction first, ties
by telegram_id, contacts who never interacted last. `pix_created` keeps the contacts with a PIX
funnel event or a created/paid payment; each source is an uncorrelated `IN (subquery)`, which
PostgreSQL runs as a hashed sub-plan over an index-only scan (one pass over the contacts, no
per-contact probe) and SQLite as an ephemeral index.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import funnel_events, payment_transactions, telegram_contacts
from disparo.domain.statuses import (
    PIX_EVENTS,
    PIX_PAYMENT_STATUSES,
    UNREACHABLE_CHAT_STATES,
    ChatState,
    Target,
)

contacts = telegram_contacts.c
# Every state but blocked/deactivated; spelled as the states kept so PostgreSQL can range-scan
# idx_telegram_contacts_audience (bot_slug, chat_state, last_interaction_at, telegram_id).
REACHABLE_CHAT_STATES = tuple(s.value for s in ChatState if s not in UNREACHABLE_CHAT_STATES)


class AudienceError(ValueError):
    """The audience parameters are invalid: target is started or pix_created, recency >= 1."""


def _check(target: str, recency_days: int | None) -> Target:
    try:
        parsed = Target(target)
    except ValueError:
        raise AudienceError(
            f"target '{target}' is unknown; use one of: {', '.join(t.value for t in Target)}"
        ) from None
    if recency_days is not None and recency_days < 1:
        raise AudienceError(f"recency_days must be at least 1 (or absent), not {recency_days}")
    return parsed


def _pix_condition(bot_slug: str) -> ColumnElement[bool]:
    from_events = select(funnel_events.c.telegram_id).where(
        funnel_events.c.bot_slug == bot_slug, funnel_events.c.event.in_(PIX_EVENTS)
    )
    from_payments = select(payment_transactions.c.telegram_id).where(
        payment_transactions.c.bot_slug == bot_slug,
        payment_transactions.c.status.in_(PIX_PAYMENT_STATUSES),
    )
    return or_(contacts.telegram_id.in_(from_events), contacts.telegram_id.in_(from_payments))


def audience_condition(
    bot_slug: str, target: str, recency_days: int | None, *, now: datetime
) -> ColumnElement[bool]:
    """The WHERE clause over `telegram_contacts` selecting the audience."""
    parsed = _check(target, recency_days)
    conditions = [contacts.bot_slug == bot_slug, contacts.chat_state.in_(REACHABLE_CHAT_STATES)]
    if recency_days is not None:
        conditions.append(contacts.last_interaction_at >= now - timedelta(days=recency_days))
    if parsed is Target.PIX_CREATED:
        conditions.append(_pix_condition(bot_slug))
    return and_(*conditions)


def send_order() -> tuple[ColumnElement[object], ...]:
    """Hot leads first: latest interaction first, never-interacted last, then by telegram_id."""
    return (contacts.last_interaction_at.desc().nulls_last(), contacts.telegram_id.asc())


def audience_select(
    bot_slug: str, target: str, recency_days: int | None, *, now: datetime
) -> Select[tuple[int, int]]:
    """`(telegram_id, seq)` of every audience member, seq counting from 1 in send order."""
    seq = func.row_number().over(order_by=send_order())
    return select(contacts.telegram_id, seq.label("seq")).where(
        audience_condition(bot_slug, target, recency_days, now=now)
    )


async def audience_members(
    conn: AsyncConnection,
    bot_slug: str,
    target: str,
    recency_days: int | None = None,
    *,
    now: datetime,
    limit: int | None = None,
) -> list[int]:
    """The audience's telegram_ids in send order (the first `limit` of them): a preview."""
    query = (
        select(contacts.telegram_id)
        .where(audience_condition(bot_slug, target, recency_days, now=now))
        .order_by(*send_order())
        .limit(limit)
    )
    return list((await conn.scalars(query)).all())


async def estimate_audience_size(
    conn: AsyncConnection,
    bot_slug: str,
    target: str,
    recency_days: int | None = None,
    *,
    now: datetime,
) -> int:
    """How many contacts the audience holds now, counted in the database (nothing loaded)."""
    query = select(func.count()).where(audience_condition(bot_slug, target, recency_days, now=now))
    return int(await conn.scalar(query) or 0)
