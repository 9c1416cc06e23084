"""The contacts table's name search through the trigram indexes of migration 0014: the same
contacts as comparing every name (substring, any case), whatever wrote the names since."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update
from worker_support import NOW, add_bot

from disparo.db import contact_browse, imports
from disparo.db.contact_browse import ContactQuery, ContactSort, contact_page, search_condition
from disparo.db.engine import Database
from disparo.db.tables import bots, telegram_contacts

c = telegram_contacts.c
PEOPLE = {
    1: ("Ana", "Souza", "ana_s"),
    2: ("ANAbela", None, None),
    3: ("Bruno", "de Ana", "brunoANA"),
    4: ("Fábio", "Ávila", "fabio%50"),
    5: ("Zoë", "O'Neil", 'say"hi"'),
    6: (None, None, "x_y_z"),
    7: ("Carla Maria", "Lima", None),
    8: (None, None, None),
}
TEXTS = (
    "ana",
    "ANA",
    "an",
    "a",
    "xyz",
    "x_y",
    "%50",
    'y"h',
    "o'n",
    "fáb",
    "ÁVILA",
    "la ma",
    "a s",
    "@ana_s",
    "bela",
    "nobody at all",
)


async def add_people(db: Database, slug: str, people: dict[int, tuple[Any, ...]]) -> None:
    rows = [
        {"bot_slug": slug, "telegram_id": tid, "first_name": f, "last_name": la, "username": u}
        for tid, (f, la, u) in people.items()
    ]
    async with db.write() as conn:
        await conn.execute(insert(telegram_contacts), rows)


async def found(db: Database, slug: str, text: str) -> list[int]:
    """The ids the table lists for the search, in id order."""
    query = ContactQuery(bot_slug=slug, search=text, sort=ContactSort.TELEGRAM_ID)
    async with db.read() as conn:
        page, _ = await contact_page(conn, query, now=NOW, after=None, limit=100)
    return [row.telegram_id for row in page]


async def compared(db: Database, slug: str, text: str) -> list[int]:
    """The ids whose names hold the text, by comparing every name (no index)."""
    condition = search_condition(text, dialect="any")  # the comparison alone
    query = select(c.telegram_id).where(c.bot_slug == slug, condition).order_by(c.telegram_id)
    async with db.read() as conn:
        return list((await conn.scalars(query)).all())


async def assert_same(db: Database, slug: str) -> None:
    for text in TEXTS:
        assert await found(db, slug, text) == await compared(db, slug, text), text


async def test_the_search_finds_what_comparing_finds(db: Database) -> None:
    """Substrings of any name, any case, special characters, short texts: the same contacts."""
    await add_bot(db, "loja")
    await add_people(db, "loja", PEOPLE)
    assert await found(db, "loja", "ana") == [1, 2, 3]
    assert await found(db, "loja", "ANA") == [1, 2, 3]
    assert await found(db, "loja", "x_y") == [6]
    assert await found(db, "loja", "%50") == [4]
    assert await found(db, "loja", "xyz") == []
    assert await found(db, "loja", "la ma") == [7]
    await assert_same(db, "loja")


async def test_many_matches_walk_the_sort(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past a number of index matches a page walks its sort's index testing the names instead
    (SQLite): the same contacts, in the same order."""
    await add_bot(db, "loja")
    await add_people(db, "loja", PEOPLE)
    monkeypatch.setattr(contact_browse, "_FEW", 2)
    assert await found(db, "loja", "ana") == [1, 2, 3]
    await assert_same(db, "loja")


async def test_the_index_follows_every_write(db: Database) -> None:
    """Names changed, contacts deleted or given another id, the same id in two bots, a bot
    renamed or deleted, the import's upsert: the search still finds what comparing finds."""
    await add_bot(db, "loja")
    await add_bot(db, "outra")
    await add_people(db, "loja", PEOPLE)
    await add_people(db, "outra", {1: ("Bruno", None, None), 9: ("Ana", None, None)})
    assert await found(db, "outra", "ana") == [9]
    assert await found(db, "loja", "bru") == [3]
    async with db.write() as conn:
        await conn.execute(
            update(telegram_contacts).where(c.telegram_id == 2).values(first_name="Eva")
        )
        await conn.execute(
            update(telegram_contacts).where(c.telegram_id == 8).values(username="novo")
        )
        await conn.execute(
            update(telegram_contacts).where(c.telegram_id == 9).values(telegram_id=10)
        )
        await conn.execute(delete(telegram_contacts).where(c.telegram_id == 3))
    assert await found(db, "loja", "ana") == [1]
    assert await found(db, "loja", "nov") == [8]
    assert await found(db, "outra", "ana") == [10]
    for slug in ("loja", "outra"):
        await assert_same(db, slug)
    async with db.write() as conn:
        await conn.execute(update(bots).where(bots.c.slug == "outra").values(slug="nova"))
        await imports.upsert_contacts(
            conn,
            "loja",
            [{"telegram_id": 1, "first_name": "Hugo"}, {"telegram_id": 11, "first_name": "Ivone"}],
            now=NOW,
        )
    assert await found(db, "nova", "bru") == [1]
    assert await found(db, "loja", "hug") == [1]
    assert await found(db, "loja", "ivo") == [11]
    async with db.write() as conn:
        await conn.execute(delete(bots).where(bots.c.slug == "nova"))
    assert await found(db, "loja", "bru") == []
    await assert_same(db, "loja")


async def test_a_rare_text_is_looked_up_in_the_index(db: Database) -> None:
    """The search's condition can be served by the trigram index: PostgreSQL's GIN index (its
    expressions are the query's), SQLite's FTS5 table."""
    await add_bot(db, "loja")
    people = {tid: (f"Nome{tid}", None, f"user{tid}") for tid in range(1, 2001)}
    await add_people(db, "loja", people)
    async with db.write() as conn:
        await conn.exec_driver_sql("ANALYZE telegram_contacts")
    async with db.read() as conn:
        sqlite = conn.dialect.name == "sqlite"
        condition = search_condition("xyz", dialect=conn.dialect.name)
        count = select(func.count()).select_from(telegram_contacts).where(condition)
        compiled = count.compile(conn.sync_connection, compile_kwargs={"literal_binds": True})
        if sqlite:
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            plan = " ".join(str(row[-1]) for row in rows)
            assert "VIRTUAL TABLE INDEX" in plan, plan
        else:
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = await conn.exec_driver_sql(f"EXPLAIN {compiled}")
            plan = " ".join(str(row[0]) for row in rows)
            assert "Bitmap Index Scan on idx_telegram_contacts_search" in plan, plan
