"""`telegram_contacts.total_paid_cents`: kept equal to the sum of the contact's paid payments by
database triggers, whatever writes the rows, and the "total paid" sort pages down it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.engine import URL, create_engine
from worker_support import NOW, add_bot, add_contacts

from disparo.db import imports, migrate
from disparo.db.contact_browse import ContactQuery, ContactSort, Position, contact_page
from disparo.db.engine import Database
from disparo.db.tables import bots, payment_transactions, telegram_contacts
from disparo.db.urls import sync_url

c = telegram_contacts.c
p = payment_transactions.c


async def totals(db: Database) -> dict[tuple[str, int], int]:
    """(bot, telegram_id) → total_paid_cents of every contact."""
    async with db.read() as conn:
        query = select(c.bot_slug, c.telegram_id, c.total_paid_cents)
        return {(slug, tid): total for slug, tid, total in await conn.execute(query)}


async def truth(db: Database) -> dict[tuple[str, int], int]:
    """The same, recomputed from the payments."""
    async with db.read() as conn:
        paid = (
            select(p.bot_slug, p.telegram_id, func.sum(p.amount_cents))
            .where(p.status == "paid")
            .group_by(p.bot_slug, p.telegram_id)
        )
        sums = {(slug, tid): int(total) for slug, tid, total in await conn.execute(paid)}
    return {key: sums.get(key, 0) for key in await totals(db)}


async def pay(db: Database, slug: str, telegram_id: int, ref: str, cents: int, status: str) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(payment_transactions).values(
                bot_slug=slug,
                telegram_id=telegram_id,
                external_id=ref,
                status=status,
                amount_cents=cents,
            )
        )


async def change(db: Database, ref: str, **values: Any) -> None:
    async with db.write() as conn:
        await conn.execute(
            update(payment_transactions).where(p.external_id == ref).values(**values)
        )


async def test_each_kind_of_write_keeps_the_total(db: Database) -> None:
    """Inserted, turned paid, amount changed, refunded, moved, deleted; a contact imported
    after its payments; another bot's payments stay apart: the column equals the sum."""
    await add_bot(db, "loja")
    await add_bot(db, "outra")
    await add_contacts(db, "loja", [1, 2, 3])
    await add_contacts(db, "outra", [1])
    await pay(db, "loja", 1, "a", 1_000, "paid")
    await pay(db, "loja", 1, "b", 500, "created")
    await pay(db, "outra", 1, "c", 70, "paid")
    await pay(db, "loja", 4, "d", 300, "paid")  # before its contact
    assert await totals(db) == {
        ("loja", 1): 1_000,
        ("loja", 2): 0,
        ("loja", 3): 0,
        ("outra", 1): 70,
    }
    await change(db, "b", status="paid")
    assert (await totals(db))[("loja", 1)] == 1_500
    await change(db, "a", amount_cents=1_200)
    assert (await totals(db))[("loja", 1)] == 1_700
    await change(db, "b", amount_cents=900)  # a created payment's amount changes nothing
    await change(db, "b", status="refunded")
    assert (await totals(db))[("loja", 1)] == 1_200
    await change(db, "a", telegram_id=2)  # moved to another contact
    await change(db, "a", status="paid", amount_cents=1_200)  # rewritten as it is
    assert (await totals(db))[("loja", 1)] == 0
    assert (await totals(db))[("loja", 2)] == 1_200
    await add_contacts(db, "loja", [4])  # imported after its payment
    assert (await totals(db))[("loja", 4)] == 300
    async with db.write() as conn:
        await conn.execute(delete(payment_transactions).where(p.external_id == "a"))
    await pay(db, "loja", 3, "e", 0, "paid")
    assert await totals(db) == await truth(db)
    assert await totals(db) == {
        ("loja", 1): 0,
        ("loja", 2): 0,
        ("loja", 3): 0,
        ("loja", 4): 300,
        ("outra", 1): 70,
    }


async def test_a_total_given_by_the_writer_is_not_kept(db: Database) -> None:
    """A contact inserted with a wrong total gets the payments' sum."""
    await add_bot(db, "loja")
    await pay(db, "loja", 1, "a", 400, "paid")
    async with db.write() as conn:
        await conn.execute(
            insert(telegram_contacts),
            [
                {"bot_slug": "loja", "telegram_id": 1, "total_paid_cents": 5},
                {"bot_slug": "loja", "telegram_id": 2, "total_paid_cents": 5},
            ],
        )
    assert await totals(db) == {("loja", 1): 400, ("loja", 2): 0}


async def test_statements_writing_many_rows(db: Database) -> None:
    """One INSERT … SELECT, UPDATE and DELETE (or TRUNCATE) over many payments."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 11))
    async with db.write() as conn:
        await conn.execute(
            text(
                "INSERT INTO payment_transactions"
                " (bot_slug, telegram_id, external_id, status, amount_cents)"
                " SELECT bot_slug, telegram_id, 'x' || telegram_id,"
                " CASE WHEN telegram_id % 2 = 0 THEN 'paid' ELSE 'created' END, telegram_id * 100"
                " FROM telegram_contacts"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO payment_transactions"
                " (bot_slug, telegram_id, external_id, status, amount_cents)"
                " SELECT bot_slug, telegram_id, 'y' || telegram_id, 'paid', 1"
                " FROM telegram_contacts"
            )
        )
    assert await totals(db) == await truth(db)
    assert (await totals(db))[("loja", 4)] == 401
    async with db.write() as conn:
        await conn.execute(text("UPDATE payment_transactions SET status = 'paid'"))
        await conn.execute(
            text("UPDATE payment_transactions SET telegram_id = 11 - telegram_id WHERE id % 3 = 0")
        )
        await conn.execute(text("DELETE FROM payment_transactions WHERE telegram_id > 8"))
    assert await totals(db) == await truth(db)
    async with db.write() as conn:
        sqlite = conn.dialect.name == "sqlite"
        await conn.execute(
            text("DELETE FROM payment_transactions" if sqlite else "TRUNCATE payment_transactions")
        )
    assert set((await totals(db)).values()) == {0}


async def test_bot_renamed_keeps_the_totals(db: Database) -> None:
    """A slug change cascades to contacts and payments in some order; the totals stay right."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", [1, 2])
    await pay(db, "loja", 1, "a", 250, "paid")
    async with db.write() as conn:
        await conn.execute(update(bots).where(bots.c.slug == "loja").values(slug="nova"))
    assert await totals(db) == {("nova", 1): 250, ("nova", 2): 0}
    async with db.write() as conn:  # a contact given another id takes that id's payments
        await conn.execute(
            update(telegram_contacts).where(c.telegram_id == 2).values(telegram_id=3)
        )
    await pay(db, "nova", 3, "b", 40, "paid")
    async with db.write() as conn:
        await conn.execute(
            update(telegram_contacts).where(c.telegram_id == 1).values(telegram_id=9)
        )
    assert await totals(db) == {("nova", 9): 0, ("nova", 3): 40}


async def test_import_routes_keep_the_totals(db: Database) -> None:
    """The bulk upserts of payments (insert and on-conflict update paths) and of contacts."""
    await add_bot(db, "loja")
    pay_row = {"currency": None, "created_at": None, "paid_at": None}
    async with db.write() as conn:
        await imports.upsert_transactions(
            conn,
            "loja",
            [
                {"telegram_id": 1, "external_id": "a", "status": "paid", "amount_cents": 100}
                | pay_row,
                {"telegram_id": 2, "external_id": "b", "status": "created", "amount_cents": 50}
                | pay_row,
            ],
            now=NOW,
        )
        rows = [{"telegram_id": tid, "first_name": None} for tid in (1, 2, 3)]
        await imports.upsert_contacts(conn, "loja", rows, now=NOW)
    assert await totals(db) == {("loja", 1): 100, ("loja", 2): 0, ("loja", 3): 0}
    async with db.write() as conn:
        await imports.upsert_transactions(
            conn,
            "loja",
            [
                {"telegram_id": 1, "external_id": "a", "status": "paid", "amount_cents": 100}
                | pay_row,
                {"telegram_id": 2, "external_id": "b", "status": "paid", "amount_cents": 60}
                | pay_row,
                {"telegram_id": 3, "external_id": "c", "status": "paid", "amount_cents": 7}
                | pay_row,
            ],
            now=NOW,
        )
        await imports.upsert_contacts(
            conn, "loja", [{"telegram_id": 1, "first_name": "A"}], now=NOW
        )
    assert await totals(db) == {("loja", 1): 100, ("loja", 2): 60, ("loja", 3): 7}
    assert await totals(db) == await truth(db)


async def test_the_sort_pages_down_the_totals(db: Database) -> None:
    """Largest first, ties and those who never paid by id descending; every contact once
    across pages, each page read from the previous one's position."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 31))
    for tid in range(1, 31, 2):
        await pay(db, "loja", tid, f"p{tid}", (tid % 4) * 100, "paid")
    expected = sorted(
        ((total, tid) for (_, tid), total in (await totals(db)).items()), reverse=True
    )
    query = ContactQuery(bot_slug="loja", sort=ContactSort.TOTAL_PAID)
    seen: list[tuple[int, int]] = []
    after: Position | None = None
    while True:
        async with db.read() as conn:
            page, after = await contact_page(conn, query, now=NOW, after=after, limit=4)
        seen += [(row.total_paid_cents, row.telegram_id) for row in page]
        if after is None:
            break
        after = Position.decode(after.encode())
    assert seen == expected
    assert seen[0] == (300, 27)
    async with db.read() as conn:  # a position written before totals were kept: the zeros
        page, _ = await contact_page(conn, query, now=NOW, after=Position(None, 10), limit=3)
    assert [row.telegram_id for row in page] == [8, 6, 4]


async def test_the_sort_reads_the_index(db: Database) -> None:
    """A next page of the sort is a walk down idx_telegram_contacts_total_paid from the
    position, on both backends (no sort of the bot's contacts)."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 3001))
    async with db.write() as conn:
        await conn.exec_driver_sql("ANALYZE telegram_contacts")
    query = ContactQuery(bot_slug="loja", sort=ContactSort.TOTAL_PAID)
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    async with db.read() as conn:
        event.listen(conn.sync_connection, "before_cursor_execute", record)
        try:
            await contact_page(conn, query, now=NOW, after=Position(0, 2000), limit=50)
        finally:
            event.remove(conn.sync_connection, "before_cursor_execute", record)
        statement, parameters = next(s for s in statements if "ORDER BY" in s[0])
        sqlite = conn.dialect.name == "sqlite"
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        plan = " ".join(
            str(row[-1] if sqlite else row[0])
            for row in await conn.exec_driver_sql(explain + statement, parameters)
        )
    assert "idx_telegram_contacts_total_paid" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    assert "Sort" not in plan, plan


def test_upgrade_backfills_the_totals(empty_db_url: URL) -> None:
    """Migrating a database that already holds contacts and payments sums them."""
    migrate.upgrade(empty_db_url, "0013")
    engine = create_engine(sync_url(empty_db_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bots (slug, token, webhook_secret) VALUES ('loja', '1:x', 's')")
            )
            conn.execute(
                text(
                    "INSERT INTO telegram_contacts (bot_slug, telegram_id)"
                    " VALUES ('loja', 1), ('loja', 2), ('loja', 3)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO payment_transactions"
                    " (bot_slug, telegram_id, external_id, status, amount_cents) VALUES"
                    " ('loja', 1, 'a', 'paid', 10), ('loja', 1, 'b', 'paid', 5),"
                    " ('loja', 2, 'c', 'expired', 7), ('loja', 9, 'd', 'paid', 1)"
                )
            )
        migrate.upgrade(empty_db_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT telegram_id, total_paid_cents FROM telegram_contacts")
            ).all()
    finally:
        engine.dispose()
    assert dict(rows) == {1: 15, 2: 0, 3: 0}  # type: ignore[arg-type]
