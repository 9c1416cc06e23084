"""What a contacts import brings beside the contact's columns: tags and custom attributes.

Tags are written set-based: one or two statements per chunk on PostgreSQL, one or two for the
whole import at the SQLite merge (staged by `disparo.db.import_stage`). A row's tags are
`(telegram_id, tags)`; with `replace` they become the contact's whole set (an empty list clears
it), otherwise they are added beside its own. Contacts whose rows gave no tags are untouched.
Attributes are changes merged into the stored flat object, a null removing its key.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Text,
    bindparam,
    cast,
    column,
    delete,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.import_stage import Merged, Tagged
from disparo.db.tables import contact_tags, telegram_contacts
from disparo.db.upserts import CompiledOnce, upsert_into

t = contact_tags.c


def merged_attributes(dialect: str, changes: Any) -> ColumnElement[Any]:
    """The stored attributes with `changes` merged in (flat objects: a null removes its key),
    NULL when nothing is left; for an upsert's update on the backend named `dialect`."""
    stored = telegram_contacts.c.attributes
    if dialect == "postgresql":
        empty: ColumnElement[Any] = literal_column("'{}'::jsonb")
        merged = func.jsonb_strip_nulls(
            func.coalesce(cast(stored, postgresql.JSONB), empty).op("||")(
                cast(changes, postgresql.JSONB)
            )
        )
        return cast(func.nullif(merged, empty), JSON)
    empty = literal_column("'{}'")  # SQLite: json_patch is RFC 7396's merge, null removing
    return func.nullif(func.json_patch(func.coalesce(stored, empty), changes), empty)


# The same at the SQLite merge; a contact's changes staged twice are joined first, their nulls
# kept (merge_objects in the scratch file).
ATTRIBUTES_SQL = Merged(
    staged="merge_objects(attributes, excluded.attributes)",
    stored="CASE WHEN s.attributes IS NULL THEN t.attributes ELSE "
    "nullif(json_patch(coalesce(t.attributes, '{}'), s.attributes), '{}') END",
    new="nullif(json_patch('{}', s.attributes), '{}')",
)


# PostgreSQL: the tags a replace drops. Each contact's tags are found by an index probe of
# their own, then deleted by their row address: inside the import's transaction the planner's
# statistics still describe contact_tags before it, and a plain join was planned as a scan of
# every tag of the bot for each chunk (quadratic over an import). OFFSET 0 keeps the lateral
# subquery a per-contact probe; it is never merged into a join.
_STALE_PG = text(
    """
    DELETE FROM contact_tags WHERE ctid = ANY(ARRAY(
      SELECT stale.ctid
      FROM json_to_recordset(CAST(:tagged AS JSON)) AS r(telegram_id BIGINT, tags TEXT[])
      CROSS JOIN LATERAL (
        SELECT t.ctid FROM contact_tags AS t
        WHERE t.bot_slug = :bot_slug AND t.telegram_id = r.telegram_id AND t.tag <> ALL (r.tags)
        OFFSET 0
      ) AS stale
    ))
    """
)


def _new_tags_pg() -> postgresql.Insert:
    """PostgreSQL: the tags of the rows in the JSON array bound as `tagged` ({telegram_id,
    tags}, read as rows of a bigint and a text[]), those already there left alone."""
    rows = (
        func.json_to_recordset(cast(bindparam("tagged", type_=Text()), JSON))
        .table_valued(column("telegram_id", BigInteger), column("tags", postgresql.ARRAY(Text)))
        .render_derived(with_types=True)
    )
    return (
        postgresql.insert(contact_tags)
        .from_select(
            ["bot_slug", "telegram_id", "tag"],
            select(bindparam("bot_slug"), rows.c.telegram_id, func.unnest(rows.c.tags)),
        )
        .on_conflict_do_nothing()
    )


async def write_tags(
    conn: AsyncConnection, bot_slug: str, tagged: Tagged, *, replace: bool
) -> None:
    """The tags of one chunk's rows, whose contacts are already stored. PostgreSQL: one or two
    statements over one JSON document; SQLite (outside an import's stage): executemany."""
    if not tagged:
        return
    if conn.dialect.name != "postgresql":
        ids = [tid for tid, _tags in tagged]
        if replace:
            await conn.execute(
                delete(contact_tags).where(t.bot_slug == bot_slug, t.telegram_id.in_(ids))
            )
        pairs = [
            {"bot_slug": bot_slug, "telegram_id": tid, "tag": tag}
            for tid, tags in tagged
            for tag in tags
        ]
        if pairs:
            await conn.execute(upsert_into(conn, contact_tags).on_conflict_do_nothing(), pairs)
        return
    await write_tags_document(conn, bot_slug, tags_document(tagged), replace=replace)


def tags_document(tagged: Tagged) -> str:
    """PostgreSQL: one chunk's tags as the JSON document `write_tags_document` takes."""
    return orjson.dumps([{"telegram_id": tid, "tags": tags} for tid, tags in tagged]).decode()


_NEW_TAGS_PG = CompiledOnce(_new_tags_pg())


async def write_tags_document(
    conn: AsyncConnection, bot_slug: str, document: str, *, replace: bool
) -> None:
    """PostgreSQL: the tags of one chunk's rows (`tags_document`), one or two statements."""
    params = {"bot_slug": bot_slug, "tagged": document}
    if replace:
        await conn.execute(_STALE_PG, params)
    await _NEW_TAGS_PG.execute(conn, params)
