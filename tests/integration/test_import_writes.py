"""How an import's rows reach the database: whole or not at all, without holding other writers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, select
from worker_support import NOW, add_bot

from disparo.db import imports
from disparo.db.engine import Database
from disparo.db.tables import contact_tags, funnel_events, telegram_contacts


def people(*ids: int) -> list[dict[str, Any]]:
    """Contact rows as the import's reader hands them over (None where nothing was given)."""
    return [
        dict.fromkeys(imports.CONTACT_COLUMNS) | {"telegram_id": n, "first_name": f"N{n}"}
        for n in ids
    ]


async def stored_ids(db: Database) -> list[int]:
    """The telegram_ids of the stored contacts."""
    async with db.read() as conn:
        return sorted(await conn.scalars(select(telegram_contacts.c.telegram_id)))


async def test_an_import_leaves_other_writers_free_until_it_finishes(db: Database) -> None:
    """While an import takes its chunks, another write goes through; its rows land at finish."""
    await add_bot(db, "loja")
    async with imports.importing(db, imports.CONTACT_ROWS, "loja", now=NOW) as target:
        await target.add(people(1, 2))
        await target.add(people(2, 3))  # a key again, in a later chunk
        async with db.write() as conn:  # on SQLite this waited for the import's whole length
            await conn.execute(
                insert(funnel_events).values(
                    bot_slug="loja", telegram_id=99, event="visit", occurred_at=NOW
                )
            )
        new = await target.finish()
    assert new == 3
    assert await stored_ids(db) == [1, 2, 3]


async def test_an_import_that_fails_stores_nothing(db: Database) -> None:
    """An error before the import's end leaves none of its chunks stored."""
    await add_bot(db, "loja")

    async def broken_import() -> None:
        async with imports.importing(db, imports.CONTACT_ROWS, "loja", now=NOW) as target:
            await target.add(people(1, 2))
            await target.add(people(3))
            raise RuntimeError("the body broke off")

    with pytest.raises(RuntimeError):
        await broken_import()
    assert await stored_ids(db) == []


async def tags_and_attributes(db: Database) -> dict[int, tuple[list[str], Any]]:
    """Each contact's sorted tags and its attributes."""
    async with db.read() as conn:
        pairs = (await conn.execute(select(contact_tags.c.telegram_id, contact_tags.c.tag))).all()
        rows = await conn.execute(
            select(telegram_contacts.c.telegram_id, telegram_contacts.c.attributes)
        )
        return {
            tid: (sorted(tag for owner, tag in pairs if owner == tid), attributes)
            for tid, attributes in rows.tuples()
        }


async def test_upsert_contacts_writes_tags_and_attributes(db: Database) -> None:
    """The chunk upsert (PostgreSQL's path, and SQLite's outside an import's stage) adds or
    replaces tags and merges attributes, a None removing its key."""
    await add_bot(db, "loja")
    first = [
        {"telegram_id": 1, "tags": ["vip", "a"], "attributes": {"x": 1, "gone": None}},
        {"telegram_id": 2, "tags": ["vip"]},
        {"telegram_id": 3, "first_name": "Caio"},
    ]
    async with db.write() as conn:
        assert await imports.upsert_contacts(conn, "loja", first, now=NOW) == 0
    assert await tags_and_attributes(db) == {
        1: (["a", "vip"], {"x": 1}),
        2: (["vip"], None),
        3: ([], None),
    }
    second = [
        {"telegram_id": 1, "tags": ["b"], "attributes": {"x": None, "y": "z"}},
        {"telegram_id": 2, "tags": []},
        {"telegram_id": 3, "attributes": {"k": True}},
    ]
    async with db.write() as conn:
        assert await imports.upsert_contacts(conn, "loja", second, now=NOW, replace_tags=True) == 3
    assert await tags_and_attributes(db) == {
        1: (["b"], {"y": "z"}),
        2: ([], None),
        3: ([], {"k": True}),
    }
