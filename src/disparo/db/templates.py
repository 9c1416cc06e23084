"""Named queries on `templates`: saved messages, of one bot or of every bot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import templates

t = templates.c
EDITABLE_TEMPLATE_FIELDS = frozenset(
    {"name", "copy", "media_type", "media_url", "buttons", "bot_slug"}
)


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    """A saved message; `bot_slug` None when every bot may use it."""

    id: int
    bot_slug: str | None
    name: str
    copy: str
    media_type: str
    media_url: str | None
    buttons: Any
    created_at: datetime
    updated_at: datetime


_COLUMNS = [t[name] for name in TemplateRecord.__slots__]


def _record(row: RowMapping) -> TemplateRecord:
    return TemplateRecord(**row)


async def list_templates(
    conn: AsyncConnection, *, bot_slug: str | None = None
) -> list[TemplateRecord]:
    """Every template by name; with `bot_slug`, those that bot may use (its own and shared)."""
    query = select(*_COLUMNS).order_by(t.name, t.id)
    if bot_slug is not None:
        query = query.where(or_(t.bot_slug == bot_slug, t.bot_slug.is_(None)))
    return [_record(row) for row in (await conn.execute(query)).mappings()]


async def get_template(conn: AsyncConnection, template_id: int) -> TemplateRecord | None:
    """Template `template_id`, or None."""
    row = (await conn.execute(select(*_COLUMNS).where(t.id == template_id))).mappings().first()
    return None if row is None else _record(row)


async def insert_template(conn: AsyncConnection, *, now: datetime, **values: Any) -> TemplateRecord:
    """Save a new template."""
    query = insert(templates).values(**values, created_at=now, updated_at=now).returning(*_COLUMNS)
    return _record((await conn.execute(query)).mappings().one())


async def update_template(
    conn: AsyncConnection, template_id: int, *, now: datetime, **changes: Any
) -> TemplateRecord | None:
    """Change a template; None when it is gone. Shots made from it keep their own copy."""
    unknown = set(changes) - EDITABLE_TEMPLATE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    query = (
        update(templates)
        .where(t.id == template_id)
        .values(**changes, updated_at=now)
        .returning(*_COLUMNS)
    )
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else _record(row)


async def delete_template(conn: AsyncConnection, template_id: int) -> bool:
    """Remove a template; False when there was none."""
    return (await conn.execute(delete(templates).where(t.id == template_id))).rowcount > 0
