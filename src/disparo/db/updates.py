"""Named queries on `processed_updates`: each Telegram update is applied at most once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import processed_updates
from disparo.db.upserts import upsert_into


async def claim_update(conn: AsyncConnection, bot_slug: str, update_id: int, now: datetime) -> bool:
    """Record the update as processed; False when it already was (a duplicate delivery).

    Call it in the transaction that applies the update, so both commit or neither does.
    """
    stmt = (
        upsert_into(conn, processed_updates)
        .values(bot_slug=bot_slug, update_id=update_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["bot_slug", "update_id"])
        .returning(processed_updates.c.update_id)
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT that SQLAlchemy sends.
    return (await conn.execute(stmt)).first() is not None


async def forget_updates_before(conn: AsyncConnection, before: datetime) -> int:
    """Drop the record of updates received before `before` (Telegram retries for a day)."""
    result = await conn.execute(
        delete(processed_updates).where(processed_updates.c.received_at < before)
    )
    return int(result.rowcount)
