"""Named queries on `telegram_contacts`: what Telegram updates change, and the metrics card."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import telegram_contacts
from disparo.db.upserts import upsert_into
from disparo.db.webhook_events import record_contacts_unreachable
from disparo.domain.statuses import ChatState

c = telegram_contacts.c


@dataclass(frozen=True, slots=True)
class Profile:
    """Who a Telegram update comes from (its `from` user)."""

    telegram_id: int
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def columns(self) -> dict[str, Any]:
        """The contact columns this profile sets."""
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": self.language_code,
        }


async def record_interaction(
    conn: AsyncConnection, bot_slug: str, who: Profile, *, now: datetime, started: bool
) -> None:
    """A message, callback or /start (`started`): refresh the contact, mark it reachable."""
    values = {
        **who.columns(),
        "chat_state": ChatState.ACTIVE.value,
        "last_interaction_at": now,
        "updated_at": now,
    }
    if started:
        values["started_at"] = now
    stmt = upsert_into(conn, telegram_contacts).values(
        bot_slug=bot_slug, telegram_id=who.telegram_id, **values
    )
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=[c.bot_slug, c.telegram_id], set_=values)
    )


async def record_chat_state(
    conn: AsyncConnection, bot_slug: str, who: Profile, state: ChatState, *, now: datetime
) -> None:
    """The contact blocked (kicked) or unblocked (member) the bot; `blocked_at` on blocking."""
    reachable = state is ChatState.ACTIVE
    if not reachable:  # before the change: the event compares with the state it replaces
        await record_contacts_unreachable(
            conn,
            [(bot_slug, who.telegram_id, state.value)],
            now=now,
            source="update",
            unknown_counts=True,
        )
    insert_values: dict[str, Any] = {
        **who.columns(),
        "chat_state": state.value,
        "updated_at": now,
        "blocked_at": None if reachable else now,
    }
    set_: dict[str, Any] = {**insert_values}
    if not reachable:
        # Keep the first time of a block already known; a new block of an active contact is now.
        set_["blocked_at"] = case(
            (or_(c.chat_state == ChatState.ACTIVE.value, c.blocked_at.is_(None)), literal(now)),
            else_=c.blocked_at,
        )
    else:
        del set_["blocked_at"]
    stmt = upsert_into(conn, telegram_contacts).values(
        bot_slug=bot_slug, telegram_id=who.telegram_id, **insert_values
    )
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=[c.bot_slug, c.telegram_id], set_=set_)
    )


@dataclass(frozen=True, slots=True)
class ContactMetrics:
    """A bot's contacts by state now, and how that changed over the last day."""

    total: int
    active: int
    blocked: int
    deactivated: int
    started_24h: int
    blocked_24h: int
    deactivated_24h: int
    active_change_24h: int


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def contact_metrics(conn: AsyncConnection, bot_slug: str, *, now: datetime) -> ContactMetrics:
    """The metrics card: counts by chat_state, and the changes since `now` − 24 h.

    The active count 24 h ago is estimated from started_at and blocked_at: contacts that had
    started before then and are active now or became unreachable since.
    """
    since = now - timedelta(hours=24)
    recently_unreachable = and_(c.blocked_at.is_not(None), c.blocked_at >= since)
    state = c.chat_state
    query = select(
        func.count(),
        _count(state == ChatState.ACTIVE.value),
        _count(state == ChatState.BLOCKED.value),
        _count(state == ChatState.DEACTIVATED.value),
        _count(and_(c.started_at.is_not(None), c.started_at >= since)),
        _count(and_(state == ChatState.BLOCKED.value, recently_unreachable)),
        _count(and_(state == ChatState.DEACTIVATED.value, recently_unreachable)),
        _count(
            and_(
                or_(c.started_at.is_(None), c.started_at < since),
                or_(state == ChatState.ACTIVE.value, recently_unreachable),
            )
        ),
    ).where(c.bot_slug == bot_slug)
    row = (await conn.execute(query)).one()
    total, active, blocked, deactivated, started, blocked_24h, deactivated_24h, active_then = (
        int(v) for v in row
    )
    return ContactMetrics(
        total=total,
        active=active,
        blocked=blocked,
        deactivated=deactivated,
        started_24h=started,
        blocked_24h=blocked_24h,
        deactivated_24h=deactivated_24h,
        active_change_24h=active - active_then,
    )


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_contacts(
    conn: AsyncConnection, bot_slug: str, query: str, *, limit: int
) -> list[Profile]:
    """The bot's contacts whose id is `query`, or whose first name, last name or username
    contains it (any case); latest interaction first."""
    text = query.strip().lstrip("@")
    matches: list[ColumnElement[bool]] = [
        func.lower(column).like(_like(text), escape="\\")
        for column in (c.first_name, c.last_name, c.username)
    ]
    if text.lstrip("-").isascii() and text.lstrip("-").isdigit() and len(text) <= 18:
        matches.append(c.telegram_id == int(text))
    found = (
        select(c.telegram_id, c.first_name, c.last_name, c.username, c.language_code)
        .where(c.bot_slug == bot_slug, or_(*matches))
        .order_by(c.last_interaction_at.desc().nulls_last(), c.telegram_id)
        .limit(limit)
    )
    return [Profile(**row) for row in (await conn.execute(found)).mappings()]
