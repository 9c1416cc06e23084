"""Bulk upserts behind the import routes: contacts, funnel events and payment transactions.

Each function takes one chunk of validated rows with distinct keys (None where the source gave
nothing) and returns how many of them existed before. A None never overwrites a stored value.
Call each chunk in its own short write transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import funnel_events, payment_transactions, telegram_contacts
from disparo.db.upserts import upsert_into
from disparo.domain.statuses import UNREACHABLE_CHAT_STATES, ChatState

CONTACT_COLUMNS = (
    "telegram_id",
    "first_name",
    "last_name",
    "username",
    "language_code",
    "chat_state",
    "started_at",
    "last_interaction_at",
)
EVENT_COLUMNS = ("telegram_id", "event", "occurred_at", "payload")
TRANSACTION_COLUMNS = (
    "telegram_id",
    "external_id",
    "status",
    "amount_cents",
    "currency",
    "created_at",
    "paid_at",
)
_UNREACHABLE = tuple(s.value for s in UNREACHABLE_CHAT_STATES)


def _groups(rows: Sequence[dict[str, Any]]) -> dict[frozenset[str], list[dict[str, Any]]]:
    """Rows grouped by the columns they give (not None): one executemany per group."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        given = {k: v for k, v in row.items() if v is not None}
        groups[frozenset(given)].append(given)
    return groups


async def _upsert(
    conn: AsyncConnection,
    table: Table,
    key: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    defaults: dict[str, Any],
    extra_set: Callable[[frozenset[str], Any], dict[str, Any]] = lambda _given, _new: {},
) -> None:
    """Insert `rows` (`defaults` filling what a row leaves out); on a key conflict update only
    the columns the row gives, so nothing given as None overwrites a stored value."""
    for given, group in _groups(rows).items():
        stmt = upsert_into(conn, table)
        set_ = {name: stmt.excluded[name] for name in given if name not in key}
        set_.update(extra_set(given, stmt.excluded))
        params = [{**defaults, **row} for row in group]
        index = [table.c[name] for name in key]
        if set_:
            stmt = stmt.on_conflict_do_update(index_elements=index, set_=set_)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=index)
        await conn.execute(stmt, params)


async def upsert_contacts(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """Insert or update contacts; a move from active to blocked/deactivated sets blocked_at."""
    if not rows:
        return 0
    t = telegram_contacts
    ids = [row["telegram_id"] for row in rows]
    existing = set(
        await conn.scalars(
            select(t.c.telegram_id).where(t.c.bot_slug == bot_slug, t.c.telegram_id.in_(ids))
        )
    )

    def blocked_at(given: frozenset[str], new: Any) -> dict[str, Any]:
        changes: dict[str, Any] = {"updated_at": new.updated_at}
        if "chat_state" in given:
            # OR of equalities, not IN: an expanding IN cannot go through executemany.
            unreachable = or_(*(new.chat_state == state for state in _UNREACHABLE))
            became_unreachable = unreachable & (t.c.chat_state == ChatState.ACTIVE.value)
            changes["blocked_at"] = case((became_unreachable, new.updated_at), else_=t.c.blocked_at)
        return changes

    await _upsert(
        conn,
        t,
        ("bot_slug", "telegram_id"),
        [{"bot_slug": bot_slug, **row} for row in rows],
        defaults={"chat_state": ChatState.ACTIVE.value, "updated_at": now},
        extra_set=blocked_at,
    )
    return len(existing)


async def upsert_events(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]]
) -> int:
    """Insert funnel events; an event already known gets the new payload, if one is given."""
    if not rows:
        return 0
    t = funnel_events
    ids = {row["telegram_id"] for row in rows}
    found = await conn.execute(
        select(t.c.telegram_id, t.c.event, t.c.occurred_at).where(
            t.c.bot_slug == bot_slug, t.c.telegram_id.in_(ids)
        )
    )
    known = {tuple(r) for r in found}
    await _upsert(
        conn,
        t,
        ("bot_slug", "telegram_id", "event", "occurred_at"),
        [{"bot_slug": bot_slug, **row} for row in rows],
        defaults={},
    )
    return sum(1 for r in rows if (r["telegram_id"], r["event"], r["occurred_at"]) in known)


async def upsert_transactions(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """Insert or update payment transactions, matched on their `external_id`."""
    if not rows:
        return 0
    t = payment_transactions
    existing = set(
        await conn.scalars(
            select(t.c.external_id).where(
                t.c.bot_slug == bot_slug,
                t.c.external_id.in_([row["external_id"] for row in rows]),
            )
        )
    )
    await _upsert(
        conn,
        t,
        ("bot_slug", "external_id"),
        [{"bot_slug": bot_slug, **row} for row in rows],
        defaults={"currency": "BRL", "created_at": now},
    )
    return len(existing)
