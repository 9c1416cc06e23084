"""Who a shot goes to: the `started` and `pix_created` audiences of a bot, counted or listed.

Both targets are the bot's reachable contacts (never blocked or deactivated), optionally only
those who interacted within `recency_days`, in send order: most recent interaction first, ties
by telegram_id, contacts who never interacted last. `pix_created` keeps the contacts stamped
`has_pix`: a PIX funnel event or a created/paid payment. Database triggers (migration 0002) keep
the stamp right whatever writes funnel_events, payment_transactions or telegram_contacts, so
the audience is a range of the partial index idx_telegram_contacts_pix (index-only on both
backends) instead of a pass over every contact probing the two sources.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.errors import StoreError
from disparo.db.tables import telegram_contacts
from disparo.domain.statuses import UNREACHABLE_CHAT_STATES, ChatState, Target

contacts = telegram_contacts.c
# Every state but blocked/deactivated; spelled as the states kept so the database can range-scan
# idx_telegram_contacts_audience / _pix (bot_slug, chat_state, last_interaction_at, telegram_id).
REACHABLE_CHAT_STATES = tuple(s.value for s in ChatState if s not in UNREACHABLE_CHAT_STATES)


class AudienceError(StoreError, ValueError):
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


def audience_condition(
    bot_slug: str, target: str, recency_days: int | None, *, now: datetime
) -> ColumnElement[bool]:
    """The WHERE clause over `telegram_contacts` selecting the audience."""
    parsed = _check(target, recency_days)
    conditions = [contacts.bot_slug == bot_slug, contacts.chat_state.in_(REACHABLE_CHAT_STATES)]
    if recency_days is not None:
        conditions.append(contacts.last_interaction_at >= now - timedelta(days=recency_days))
    if parsed is Target.PIX_CREATED:
        # Bare, as the index predicate is spelled (`has_pix` / `has_pix = 1` on SQLite).
        conditions.append(contacts.has_pix)
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


async def shot_audience_select(
    conn: AsyncConnection,
    shot_id: int,
    bot_slug: str,
    target: str,
    recency_days: int | None,
    *,
    now: datetime,
) -> Select[tuple[int, int]]:
    """The audience of shot `shot_id` (its target and recency, narrowed by its filter or
    segment), as `audience_select` numbers it."""
    return audience_select(bot_slug, target, recency_days, now=now)
