"""Named queries on `contact_tags`: one contact's tags, and a tag put on (or taken off) every
contact a filter matches, in one set-based statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Delete,
    Insert,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.filters import filter_condition
from disparo.db.tables import contact_tags, telegram_contacts
from disparo.domain.filters import Filter

t = contact_tags.c
contacts = telegram_contacts.c


async def tags_of(conn: AsyncConnection, bot_slug: str, telegram_id: int) -> list[str]:
    """The contact's tags, sorted."""
    query = select(t.tag).where(t.bot_slug == bot_slug, t.telegram_id == telegram_id)
    return sorted((await conn.scalars(query)).all())


async def contact_exists(conn: AsyncConnection, bot_slug: str, telegram_id: int) -> bool:
    """Whether the bot has the contact."""
    query = select(contacts.telegram_id).where(
        contacts.bot_slug == bot_slug, contacts.telegram_id == telegram_id
    )
    return (await conn.execute(query)).first() is not None


async def change_tags(
    conn: AsyncConnection,
    bot_slug: str,
    telegram_id: int,
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> list[str]:
    """Add and remove tags of one existing contact; its tags after the change."""
    if remove:
        await conn.execute(
            delete(contact_tags).where(
                t.bot_slug == bot_slug, t.telegram_id == telegram_id, t.tag.in_(list(remove))
            )
        )
    current = set(await tags_of(conn, bot_slug, telegram_id))
    new = [tag for tag in dict.fromkeys(add) if tag not in current]
    if new:
        rows = [{"bot_slug": bot_slug, "telegram_id": telegram_id, "tag": tag} for tag in new]
        await conn.execute(insert(contact_tags), rows)
    return sorted(current | set(new))


def _matching(bot_slug: str, narrowing: Filter, now: datetime) -> ColumnElement[bool]:
    return and_(
        contacts.bot_slug == bot_slug, filter_condition(narrowing, now=now, bot_slug=bot_slug)
    )


async def apply_tag(
    conn: AsyncConnection,
    bot_slug: str,
    tag: str,
    narrowing: Filter,
    *,
    now: datetime,
    remove: bool = False,
) -> int:
    """Tag (or untag, with `remove`) every contact of the bot that `narrowing` matches, whatever
    its state; how many contacts changed."""
    query: Delete | Insert
    if remove:
        matched = select(contacts.telegram_id).where(_matching(bot_slug, narrowing, now))
        query = delete(contact_tags).where(
            t.bot_slug == bot_slug, t.tag == tag, t.telegram_id.in_(matched.scalar_subquery())
        )
    else:
        already = exists().where(
            t.bot_slug == contacts.bot_slug, t.tag == tag, t.telegram_id == contacts.telegram_id
        )
        rows = select(contacts.bot_slug, contacts.telegram_id, literal(tag)).where(
            _matching(bot_slug, narrowing, now), ~already
        )
        query = insert(contact_tags).from_select(["bot_slug", "telegram_id", "tag"], rows)
    result = await conn.execute(query.execution_options(preserve_rowcount=True))
    return int(result.rowcount)


async def tag_counts(
    conn: AsyncConnection, bot_slug: str, *, limit: int = 500
) -> list[tuple[str, int]]:
    """The bot's tags with how many contacts carry each, most used first."""
    count = func.count().label("count")
    query = (
        select(t.tag, count)
        .where(t.bot_slug == bot_slug)
        .group_by(t.tag)
        .order_by(count.desc(), t.tag)
        .limit(limit)
    )
    return [(str(tag), int(n)) for tag, n in (await conn.execute(query)).tuples()]
