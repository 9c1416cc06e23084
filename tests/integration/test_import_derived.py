"""What the contacts' row triggers keep (has_pix, total_paid_cents, the name search) is right after
an import writes contacts: on SQLite the merge skips those triggers and writes the same values
itself, the search documents after its commit (migration 0016); a search is right while
documents are still to be rewritten; a merge that fails leaves the triggers armed."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update
from worker_support import NOW, add_bot

from disparo.db import import_derived, imports
from disparo.db.contact_browse import ContactQuery, ContactSort, contact_page
from disparo.db.engine import Database
from disparo.db.tables import funnel_events, payment_transactions, telegram_contacts
from disparo.db.tables_contacts import IMPORT_MERGES, STALE_SEARCH

c = telegram_contacts.c


def row(telegram_id: int, first_name: str | None = None, **names: str) -> dict[str, Any]:
    """A contact row as the import's reader hands it over."""
    given = {"telegram_id": telegram_id, "first_name": first_name, **names}
    return dict.fromkeys(imports.CONTACT_COLUMNS) | given


async def found(db: Database, slug: str, search: str) -> list[int]:
    query = ContactQuery(bot_slug=slug, search=search, sort=ContactSort.TELEGRAM_ID)
    async with db.read() as conn:
        page, _ = await contact_page(conn, query, now=NOW, after=None, limit=100)
    return [contact.telegram_id for contact in page]


async def stamps(db: Database, slug: str) -> dict[int, tuple[bool, int]]:
    """telegram_id → (has_pix, total_paid_cents) of the bot's contacts."""
    query = select(c.telegram_id, c.has_pix, c.total_paid_cents).where(c.bot_slug == slug)
    async with db.read() as conn:
        return {tid: (bool(pix), total) for tid, pix, total in await conn.execute(query)}


async def count(db: Database, table: str) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")))


async def rename_unindexed(db: Database, telegram_id: int, first_name: str) -> None:
    """Rename a contact as an import's merge does, its search document left to rewrite (as a
    process stopped between the merge and the rewrite leaves it)."""
    async with db.write() as conn:
        await conn.execute(text(f"INSERT INTO {IMPORT_MERGES} DEFAULT VALUES"))
        await conn.execute(
            update(telegram_contacts)
            .where(c.telegram_id == telegram_id)
            .values(first_name=first_name)
        )
        await conn.execute(text(f"INSERT INTO {STALE_SEARCH} VALUES ({telegram_id})"))
        await conn.execute(text(f"DELETE FROM {IMPORT_MERGES}"))


async def add_facts(db: Database) -> None:
    """Payments and a PIX event of contacts not imported yet; two contacts of another bot and
    two of the importing bot."""
    payments = [
        ("a", 1, "paid", 100),
        ("b", 1, "paid", 50),
        ("c", 2, "created", 70),
        ("d", 4, "refunded", 30),
        ("e", 9, "paid", 5),  # another bot's contact with the same id
    ]
    async with db.write() as conn:
        await conn.execute(
            insert(payment_transactions),
            [
                {
                    "bot_slug": "outra" if tid == 9 else "loja",
                    "telegram_id": tid,
                    "external_id": ref,
                    "status": status,
                    "amount_cents": cents,
                }
                for ref, tid, status, cents in payments
            ],
        )
        await conn.execute(
            insert(funnel_events).values(
                bot_slug="loja", telegram_id=3, event="pix_created", occurred_at=NOW
            )
        )
        await conn.execute(
            insert(telegram_contacts),
            [
                {"bot_slug": "outra", "telegram_id": 5, "first_name": "Bruno"},
                {"bot_slug": "outra", "telegram_id": 6, "first_name": None},
                {"bot_slug": "loja", "telegram_id": 7, "first_name": "Velho"},
                {"bot_slug": "loja", "telegram_id": 8, "first_name": "Igual", "username": "ig"},
            ],
        )


async def test_an_import_keeps_what_the_row_triggers_keep(db: Database) -> None:
    await add_bot(db, "loja")
    await add_bot(db, "outra")
    await add_facts(db)
    rows = [row(1, "Ana"), row(2, "Bia"), row(3, "Caio"), row(4), row(5, "Carla")]
    rows += [row(6, "Dora"), row(7, "Novo"), row(8, None, username="ig"), row(9)]
    async with imports.importing(db, imports.CONTACT_ROWS, "loja", now=NOW) as target:
        await target.add(rows)
        assert await target.finish() == 7  # ids 7 and 8 were stored
    assert await stamps(db, "loja") == {
        1: (True, 150),
        2: (True, 0),
        3: (True, 0),
        4: (False, 0),
        5: (False, 0),
        6: (False, 0),
        7: (False, 0),
        8: (False, 0),
        9: (False, 0),  # another bot's payment is not this contact's
    }
    assert await found(db, "loja", "carla") == [5]
    assert await found(db, "outra", "bruno") == [5]  # the id's document holds both bots' names
    assert await found(db, "loja", "dora") == [6]
    assert await found(db, "loja", "novo") == [7]
    assert await found(db, "loja", "velho") == []
    assert await found(db, "loja", "igual") == [8]  # a missing name keeps the stored one
    assert await found(db, "loja", "ana") == [1]
    if db.is_sqlite:  # every document rewritten, the flag gone
        assert await count(db, STALE_SEARCH) == 0
        assert await count(db, IMPORT_MERGES) == 0

    # the triggers are armed again for every other writer
    async with db.write() as conn:
        await conn.execute(
            insert(funnel_events).values(
                bot_slug="loja", telegram_id=10, event="pix_created", occurred_at=NOW
            )
        )
        await conn.execute(
            insert(telegram_contacts).values(bot_slug="loja", telegram_id=10, first_name="Ivo")
        )
        await conn.execute(
            update(telegram_contacts).where(c.telegram_id == 6).values(first_name="Eli")
        )
    assert (await stamps(db, "loja"))[10] == (True, 0)
    assert await found(db, "loja", "ivo") == [10]
    assert await found(db, "loja", "eli") == [6]
    assert await found(db, "loja", "dora") == []


@pytest.mark.parametrize("backend", ["sqlite"])  # the listed ids are SQLite's
async def test_a_search_is_right_before_the_documents_are_rewritten(db: Database) -> None:
    """Names an import changed, their documents not rewritten yet (a process that stopped
    between the merge and the rewrite): the listed ids are candidates, their names compared."""
    await add_bot(db, "loja")
    async with db.write() as conn:
        await conn.execute(
            insert(telegram_contacts),
            [
                {"bot_slug": "loja", "telegram_id": tid, "first_name": name}
                for tid, name in ((1, "Antigo"), (2, "Outro"), (3, "Antigona"))
            ],
        )
    await rename_unindexed(db, 1, "Novo")
    assert await found(db, "loja", "novo") == [1]
    assert await found(db, "loja", "antigo") == [3]
    async with db.write() as conn:
        await conn.execute(text(f"INSERT INTO {STALE_SEARCH} VALUES (2), (3)"))
    database = sqlite3.connect(str(db.url.database), isolation_level=None)
    try:  # one id a transaction: three of them
        assert import_derived.rewrite_stale(database, chunk=1) == 3
    finally:
        database.close()
    assert await count(db, STALE_SEARCH) == 0
    assert await found(db, "loja", "novo") == [1]
    assert await found(db, "loja", "antigo") == [3]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_next_import_finishes_a_rewrite_left_undone(db: Database) -> None:
    await add_bot(db, "loja")
    async with db.write() as conn:
        await conn.execute(insert(telegram_contacts).values(bot_slug="loja", telegram_id=1))
    await rename_unindexed(db, 1, "Novo")
    async with imports.importing(db, imports.CONTACT_ROWS, "loja", now=NOW) as target:
        await target.add([row(2, "Outro")])
        await target.finish()
    assert await count(db, STALE_SEARCH) == 0
    async with db.read() as conn:  # the index itself now holds the new name
        matches = text("SELECT rowid FROM contact_search WHERE contact_search MATCH :q")
        assert list(await conn.scalars(matches, {"q": '"novo"'})) == [1]
    assert await found(db, "loja", "novo") == [1]


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL writes each chunk, triggers and all
async def test_a_merge_that_fails_leaves_the_triggers_armed(db: Database) -> None:
    await add_bot(db, "loja")
    await add_bot(db, "outra")

    async def import_into_a_deleted_bot() -> None:
        async with imports.importing(db, imports.CONTACT_ROWS, "loja", now=NOW) as target:
            await target.add([row(1, "Ana")])
            async with db.write() as conn:  # the bot goes before the merge: its insert fails
                await conn.execute(text("DELETE FROM bots WHERE slug = 'loja'"))
            await target.finish()

    with pytest.raises(Exception, match="FOREIGN KEY"):
        await import_into_a_deleted_bot()
    assert await count(db, IMPORT_MERGES) == 0
    assert await count(db, STALE_SEARCH) == 0
    async with db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(telegram_contacts)) == 0
    async with db.write() as conn:
        await conn.execute(
            insert(payment_transactions).values(
                bot_slug="outra", telegram_id=2, external_id="x", status="paid", amount_cents=9
            )
        )
        await conn.execute(
            insert(telegram_contacts).values(bot_slug="outra", telegram_id=2, first_name="Eva")
        )
    assert await stamps(db, "outra") == {2: (True, 9)}
    assert await found(db, "outra", "eva") == [2]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_rewrite_that_fails_is_logged_and_the_ids_stay_listed(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """After the merge's commit the import is stored: a rewrite that cannot write is logged and
    leaves the ids listed (a search still finds them), never failing the import."""
    await add_bot(db, "loja")
    async with db.write() as conn:
        await conn.execute(insert(telegram_contacts).values(bot_slug="loja", telegram_id=1))
    await rename_unindexed(db, 1, "Novo")
    read_only = sqlite3.connect(f"file:{db.url.database}?mode=ro", uri=True, isolation_level=None)
    try:
        import_derived.rewrite_stale_or_log(read_only)
    finally:
        read_only.close()
    assert "not all rewritten" in caplog.text
    assert await count(db, STALE_SEARCH) == 1
    assert await found(db, "loja", "novo") == [1]
