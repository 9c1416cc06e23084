"""Named queries of outgoing webhooks: the endpoints (their secrets sealed), and the outbox as
the delivery loop sees it: claim due deliveries under a lease, record each attempt, list them.

A claim sets `locked_until`; a process that dies mid-delivery leaves the row to be claimed
again once it passes (a receiver may then see an event twice: it has the same id).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.engine import Database
from disparo.db.secrets import SecretKeyError, TokenCipher
from disparo.db.tables_webhooks import webhook_deliveries, webhook_endpoints
from disparo.domain.webhooks import DeliveryState, events_list

e = webhook_endpoints.c
d = webhook_deliveries.c
PENDING = DeliveryState.PENDING.value


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """A registered receiver (its secret is never read back here)."""

    id: int
    url: str
    events: list[str]
    bot_slug: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One event for one endpoint, as the deliveries list shows it."""

    id: int
    endpoint_id: int
    event_id: str
    type: str
    data: Any
    created_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_response: str | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery this process claimed, with where it goes and the sealed signing secret."""

    id: int
    event_id: str
    type: str
    data: Any
    created_at: datetime
    attempts: int
    url: str
    secret: str  # sealed: opened by the sender just before signing


def new_signing_secret() -> str:
    """A fresh signing secret for an endpoint (shown once, when it is created)."""
    return "whsec_" + secrets.token_urlsafe(32)


def _endpoint(row: Any) -> EndpointRecord:
    return EndpointRecord(
        id=row.id,
        url=row.url,
        events=events_list(row.events),
        bot_slug=row.bot_slug,
        created_at=row.created_at,
    )


_ENDPOINT_COLUMNS = (e.id, e.url, e.events, e.bot_slug, e.created_at)


async def insert_endpoint(
    conn: AsyncConnection,
    cipher: TokenCipher,
    *,
    url: str,
    events: str,
    bot_slug: str | None,
    secret: str,
    now: datetime,
) -> EndpointRecord:
    """Register a receiver; `secret` is stored sealed."""
    query = (
        insert(webhook_endpoints)
        .values(
            url=url, events=events, bot_slug=bot_slug, secret=cipher.seal(secret), created_at=now
        )
        .returning(*_ENDPOINT_COLUMNS)
    )
    return _endpoint((await conn.execute(query)).one())


async def reseal_endpoint_secrets(conn: AsyncConnection, cipher: TokenCipher) -> int:
    """Seal every endpoint's signing secret again with the cipher's sealing key (`disparo
    rotate-key`, in its transaction); how many. Nothing changes when one cannot be opened."""
    rows = (await conn.execute(select(e.id, e.secret).with_for_update())).all()
    unopenable = [str(row.id) for row in rows if not cipher.opens(row.secret)]
    if unopenable:
        raise SecretKeyError(
            f"the signing secrets of webhook endpoint(s) {', '.join(unopenable)} cannot be "
            "opened with DISPARO_SECRET_KEY or DISPARO_OLD_SECRET_KEY; set "
            "DISPARO_OLD_SECRET_KEY to the key they are sealed with now. Nothing was changed"
        )
    if rows:
        await conn.execute(
            update(webhook_endpoints)
            .where(e.id == bindparam("e_id"))
            .values(secret=bindparam("e_secret")),
            [{"e_id": row.id, "e_secret": cipher.seal(cipher.open(row.secret))} for row in rows],
        )
    return len(rows)


async def list_endpoints(conn: AsyncConnection) -> list[EndpointRecord]:
    """Every receiver, oldest first."""
    query = select(*_ENDPOINT_COLUMNS).order_by(e.id)
    return [_endpoint(row) for row in await conn.execute(query)]


async def get_endpoint(conn: AsyncConnection, endpoint_id: int) -> EndpointRecord | None:
    """One receiver, or None."""
    row = (await conn.execute(select(*_ENDPOINT_COLUMNS).where(e.id == endpoint_id))).first()
    return _endpoint(row) if row is not None else None


async def delete_endpoint(conn: AsyncConnection, endpoint_id: int) -> bool:
    """Remove a receiver and its deliveries (pending ones are never sent); False if unknown."""
    result = await conn.execute(delete(webhook_endpoints).where(e.id == endpoint_id))
    return bool(result.rowcount)


async def list_deliveries(
    conn: AsyncConnection, endpoint_id: int, *, before_id: int | None, limit: int
) -> list[DeliveryRecord]:
    """An endpoint's deliveries, newest first, older than `before_id` when given."""
    query = (
        select(
            d.id,
            d.endpoint_id,
            d.event_id,
            d.type,
            d.data,
            d.created_at,
            d.status,
            d.attempts,
            d.next_attempt_at,
            d.last_attempt_at,
            d.last_status,
            d.last_response,
            d.last_error,
        )
        .where(d.endpoint_id == endpoint_id)
        .order_by(d.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(d.id < before_id)
    return [DeliveryRecord(**row) for row in (await conn.execute(query)).mappings()]


async def claim_due(
    db: Database, *, now: datetime, locked_until: datetime, limit: int
) -> list[DueDelivery]:
    """Take up to `limit` pending deliveries whose time came and that nobody holds, oldest
    first, under a lease until `locked_until` (PostgreSQL skips rows another claimer locks)."""
    due = (
        select(d.id)
        .where(
            d.status == PENDING,
            d.next_attempt_at <= now,
            or_(d.locked_until.is_(None), d.locked_until <= now),
        )
        .order_by(d.next_attempt_at, d.id)
    )
    async with db.read() as conn:
        if (await conn.execute(due.limit(1))).first() is None:
            return []  # the usual case: nothing due, no write transaction
    async with db.write() as conn:
        locked = due.limit(limit).with_for_update(skip_locked=True)
        ids = [row.id for row in await conn.execute(locked)]
        if not ids:
            return []
        await conn.execute(
            update(webhook_deliveries).where(d.id.in_(ids)).values(locked_until=locked_until)
        )
        query = (
            select(d.id, d.event_id, d.type, d.data, d.created_at, d.attempts, e.url, e.secret)
            .join(webhook_endpoints, e.id == d.endpoint_id)
            .where(d.id.in_(ids))
            .order_by(d.next_attempt_at, d.id)
        )
        return [DueDelivery(**row) for row in (await conn.execute(query)).mappings()]


async def record_attempt(
    db: Database,
    delivery_id: int,
    *,
    now: datetime,
    delivered: bool,
    next_attempt_at: datetime | None,
    status_code: int | None,
    response: str | None,
    error: str | None,
) -> None:
    """One attempt's result: delivered, pending again until `next_attempt_at`, or failed (no
    next attempt); the lease is released."""
    if delivered:
        state = DeliveryState.DELIVERED
    elif next_attempt_at is not None:
        state = DeliveryState.PENDING
    else:
        state = DeliveryState.FAILED
    values: dict[str, Any] = {
        "status": state.value,
        "attempts": d.attempts + 1,
        "last_attempt_at": now,
        "last_status": status_code,
        "last_response": response,
        "last_error": error,
        "next_attempt_at": next_attempt_at if state is DeliveryState.PENDING else None,
        "locked_until": None,
    }
    async with db.write() as conn:
        await conn.execute(
            update(webhook_deliveries)
            .where(d.id == delivery_id, d.status == PENDING)
            .values(**values)
        )


async def release(db: Database, delivery_ids: list[int]) -> None:
    """Hand back claimed deliveries that were not tried (the sender is stopping)."""
    if not delivery_ids:
        return
    async with db.write() as conn:
        await conn.execute(
            update(webhook_deliveries)
            .where(d.id.in_(delivery_ids), d.status == PENDING)
            .values(locked_until=None)
        )
