"""The `has_pix` stamp on contacts: kept right by database triggers whatever writes the rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import URL, create_engine
from worker_support import NOW, add_bot, add_contacts, add_funnel_event, add_payment

from disparo.db import imports, migrate
from disparo.db.audience import audience_condition
from disparo.db.contacts import Profile, record_interaction
from disparo.db.engine import Database
from disparo.db.tables import bots, funnel_events, payment_transactions, telegram_contacts
from disparo.db.urls import sync_url

contacts = telegram_contacts.c


async def stamps(db: Database, slug: str) -> dict[int, bool]:
    """telegram_id → has_pix of every contact of `slug`."""
    async with db.read() as conn:
        query = select(contacts.telegram_id, contacts.has_pix).where(contacts.bot_slug == slug)
        return {row.telegram_id: bool(row.has_pix) for row in await conn.execute(query)}


async def set_payment(db: Database, slug: str, telegram_id: int, status: str) -> None:
    """Change the status of the contact's payments."""
    async with db.write() as conn:
        await conn.execute(
            update(payment_transactions)
            .where(
                payment_transactions.c.bot_slug == slug,
                payment_transactions.c.telegram_id == telegram_id,
            )
            .values(status=status)
        )


async def delete_events(db: Database, slug: str, telegram_id: int) -> None:
    """Remove the contact's funnel events."""
    async with db.write() as conn:
        await conn.execute(
            delete(funnel_events).where(
                funnel_events.c.bot_slug == slug, funnel_events.c.telegram_id == telegram_id
            )
        )


async def test_event_before_or_after_the_contact_stamps_it(db: Database) -> None:
    """A PIX event stamps its contact whether the contact exists yet or is inserted later."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", [1, 3])
    await add_funnel_event(db, "loja", 1, "pix_created")  # contact before event
    await add_funnel_event(db, "loja", 2, "checkout_pix_created")  # event before contact
    await add_payment(db, "loja", 4, "paid")  # payment before contact
    await add_funnel_event(db, "loja", 3, "start")  # not a PIX event
    await add_contacts(db, "loja", [2])
    async with db.write() as conn:  # the webhook's upsert inserts a new contact too
        await record_interaction(conn, "loja", Profile(4), now=NOW, started=True)
    assert await stamps(db, "loja") == {1: True, 2: True, 3: False, 4: True}


async def test_payment_status_changes_set_and_clear(db: Database) -> None:
    """created → expired clears the stamp when nothing else qualifies; expired → paid sets it."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", [1])
    await add_payment(db, "loja", 1, "created")
    assert await stamps(db, "loja") == {1: True}
    await set_payment(db, "loja", 1, "expired")
    assert await stamps(db, "loja") == {1: False}
    await set_payment(db, "loja", 1, "paid")
    assert await stamps(db, "loja") == {1: True}
    await set_payment(db, "loja", 1, "refunded")
    assert await stamps(db, "loja") == {1: False}


async def test_removing_one_of_two_sources_keeps_the_stamp(db: Database) -> None:
    """Deleting the only PIX event clears; with a paid payment beside it the stamp stays."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", [1, 2])
    await add_funnel_event(db, "loja", 1, "pix_created")
    await add_funnel_event(db, "loja", 2, "pix_created")
    await add_funnel_event(db, "loja", 2, "start")
    await add_payment(db, "loja", 2, "paid")
    await delete_events(db, "loja", 1)
    await delete_events(db, "loja", 2)
    assert await stamps(db, "loja") == {1: False, 2: True}
    await set_payment(db, "loja", 2, "expired")
    assert await stamps(db, "loja") == {1: False, 2: False}


async def test_an_event_changed_or_moved_restamps_both_contacts(db: Database) -> None:
    """An event renamed away from PIX, or moved to another contact, restamps old and new."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", [1, 2, 3])
    await add_funnel_event(db, "loja", 1, "pix_created")
    await add_funnel_event(db, "loja", 3, "pix_created")
    async with db.write() as conn:
        await conn.execute(
            update(funnel_events).where(funnel_events.c.telegram_id == 1).values(telegram_id=2)
        )
        await conn.execute(
            update(funnel_events).where(funnel_events.c.telegram_id == 3).values(event="start")
        )
    assert await stamps(db, "loja") == {1: False, 2: True, 3: False}


async def test_statements_writing_many_rows(db: Database) -> None:
    """One INSERT … SELECT, one DELETE (or TRUNCATE) over many sources: every stamp follows."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", [1, 2, 3, 4])
    await add_payment(db, "loja", 4, "paid")
    async with db.write() as conn:
        await conn.execute(
            text(
                "INSERT INTO funnel_events (bot_slug, telegram_id, event, occurred_at)"
                " SELECT bot_slug, telegram_id, CASE WHEN telegram_id < 3 THEN 'pix_created'"
                " ELSE 'start' END, updated_at FROM telegram_contacts"
            )
        )
    assert await stamps(db, "loja") == {1: True, 2: True, 3: False, 4: True}
    async with db.write() as conn:
        await conn.execute(text("DELETE FROM funnel_events WHERE telegram_id IN (1, 3)"))
    assert await stamps(db, "loja") == {1: False, 2: True, 3: False, 4: True}
    async with db.write() as conn:
        sqlite = conn.dialect.name == "sqlite"
        await conn.execute(
            text("DELETE FROM funnel_events" if sqlite else "TRUNCATE funnel_events")
        )
    assert await stamps(db, "loja") == {1: False, 2: False, 3: False, 4: True}


async def test_another_bots_sources_do_not_leak(db: Database) -> None:
    """Events and payments of another bot for the same telegram_id leave this contact alone."""
    await add_bot(db, "loja")
    await add_bot(db, "outra")
    await add_contacts(db, "loja", [1])
    await add_contacts(db, "outra", [1])
    await add_funnel_event(db, "outra", 1, "pix_created")
    await add_payment(db, "outra", 1, "paid")
    assert await stamps(db, "loja") == {1: False}
    assert await stamps(db, "outra") == {1: True}


async def test_bot_renamed_keeps_the_stamps(db: Database) -> None:
    """A slug change cascades to contacts and sources in some order; the stamps stay right."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", [1, 2, 3])
    await add_funnel_event(db, "loja", 1, "pix_created")
    await add_payment(db, "loja", 2, "created")
    async with db.write() as conn:
        await conn.execute(update(bots).where(bots.c.slug == "loja").values(slug="nova"))
    assert await stamps(db, "nova") == {1: True, 2: True, 3: False}


async def test_import_routes_keep_the_stamps(db: Database) -> None:
    """The bulk upserts (insert and on-conflict update paths) leave every stamp right."""
    await add_bot(db, "loja")
    pay = {"amount_cents": 990, "currency": None, "created_at": None, "paid_at": None}
    async with db.write() as conn:
        await imports.upsert_events(
            conn,
            "loja",
            [
                {"telegram_id": 1, "event": "pix_created", "occurred_at": NOW, "payload": None},
                {"telegram_id": 2, "event": "start", "occurred_at": NOW, "payload": None},
            ],
        )
        await imports.upsert_transactions(
            conn,
            "loja",
            [
                {"telegram_id": 3, "external_id": "a", "status": "created", **pay},
                {"telegram_id": 4, "external_id": "b", "status": "paid", **pay},
            ],
            now=NOW,
        )
    rows = [{"telegram_id": tid, "first_name": None} for tid in (1, 2, 3, 4, 5)]
    async with db.write() as conn:
        await imports.upsert_contacts(conn, "loja", rows, now=NOW)
    assert await stamps(db, "loja") == {1: True, 2: False, 3: True, 4: True, 5: False}
    later = NOW + timedelta(hours=1)
    async with db.write() as conn:
        await imports.upsert_transactions(
            conn,
            "loja",
            [
                {"telegram_id": 3, "external_id": "a", "status": "expired", **pay},
                {"telegram_id": 5, "external_id": "c", "status": "paid", **pay},
            ],
            now=later,
        )
        await imports.upsert_events(
            conn,
            "loja",
            [
                {"telegram_id": 1, "event": "pix_created", "occurred_at": NOW, "payload": {"a": 1}},
                {"telegram_id": 2, "event": "pix_created", "occurred_at": later, "payload": None},
            ],
        )
        await imports.upsert_contacts(
            conn, "loja", [{"telegram_id": 1, "first_name": "Ana"}], now=later
        )
    assert await stamps(db, "loja") == {1: True, 2: True, 3: False, 4: True, 5: True}


async def test_pix_count_reads_the_partial_index(db: Database) -> None:
    """The `pix_created` count can use idx_telegram_contacts_pix on both backends: the query's
    predicate is spelled as the index's (SQLite needs the same terms)."""
    await add_bot(db, "loja")
    # A bot of some size, 1 % with a PIX, analysed: the planner weighs the indexes as it will in
    # use (on an empty table any index of the bot's rows costs the same).
    await add_contacts(db, "loja", range(1, 3001))
    async with db.write() as conn:
        await conn.execute(
            update(telegram_contacts)
            .where(telegram_contacts.c.telegram_id <= 30)
            .values(has_pix=True)
        )
        await conn.exec_driver_sql("ANALYZE telegram_contacts")
    condition = audience_condition("loja", "pix_created", None, now=NOW)
    async with db.read() as conn:
        count = select(text("count(*)")).select_from(telegram_contacts).where(condition)
        compiled = count.compile(conn.sync_connection, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "sqlite":
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            plan = " ".join(str(row[-1]) for row in rows)
            assert "COVERING INDEX idx_telegram_contacts_pix" in plan, plan
        else:
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            await conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            rows = await conn.exec_driver_sql(f"EXPLAIN {compiled}")
            plan = " ".join(str(row[0]) for row in rows)
            assert "Index Only Scan using idx_telegram_contacts_pix" in plan, plan


def test_upgrade_backfills_rows_written_before_the_stamp(empty_db_url: URL) -> None:
    """Migrating a database that already holds contacts, events and payments stamps them."""
    migrate.upgrade(empty_db_url, "0001")
    engine = create_engine(sync_url(empty_db_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO bots (slug, token, webhook_secret)"
                    " VALUES ('loja', '1:x', 's'), ('outra', '2:x', 's')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO telegram_contacts (bot_slug, telegram_id) VALUES"
                    " ('loja', 1), ('loja', 2), ('loja', 3), ('loja', 4), ('loja', 5),"
                    " ('outra', 1)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO funnel_events (bot_slug, telegram_id, event, occurred_at) VALUES"
                    " ('loja', 1, 'pix_created', CURRENT_TIMESTAMP),"
                    " ('loja', 2, 'checkout_pix_created', CURRENT_TIMESTAMP),"
                    " ('loja', 5, 'start', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO payment_transactions"
                    " (bot_slug, telegram_id, external_id, status, amount_cents) VALUES"
                    " ('loja', 3, 'a', 'paid', 1), ('loja', 4, 'b', 'expired', 1),"
                    " ('outra', 5, 'c', 'created', 1)"
                )
            )
        migrate.upgrade(empty_db_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT bot_slug, telegram_id, has_pix FROM telegram_contacts")
            ).all()
    finally:
        engine.dispose()
    assert {(slug, tid): bool(has) for slug, tid, has in rows} == {
        ("loja", 1): True,
        ("loja", 2): True,
        ("loja", 3): True,
        ("loja", 4): False,
        ("loja", 5): False,
        ("outra", 1): False,
    }
