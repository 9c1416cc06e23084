"""The migration history: up, down and up again on both backends, and in step with the tables."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import URL, create_engine
from sqlalchemy.exc import IntegrityError

from disparo.db import migrate
from disparo.db.schema import metadata
from disparo.db.tables_contacts import TRIGGER_OBJECTS
from disparo.db.urls import sync_url


def _tables(url: URL) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        # SQLite's name search (an FTS5 table and its shadows) is no table definition.
        return set(inspect(engine).get_table_names()) - {"alembic_version", *TRIGGER_OBJECTS}
    finally:
        engine.dispose()


def test_up_down_up(empty_db_url: URL) -> None:
    """Every migration applies, reverts to an empty schema, and applies again."""
    migrate.upgrade(empty_db_url)
    assert _tables(empty_db_url) == set(metadata.tables)
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()
    migrate.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == set()
    assert migrate.current_revision(empty_db_url) is None
    migrate.upgrade(empty_db_url)
    assert _tables(empty_db_url) == set(metadata.tables)


def test_migrations_match_table_definitions(db_url: URL) -> None:
    """The migrated schema equals the SQLAlchemy table definitions (no drift)."""
    assert migrate.schema_differences(db_url) == []


def test_upgrade_is_idempotent(db_url: URL) -> None:
    """Running the migrations on an up-to-date database changes nothing."""
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == migrate.head_revision()


def test_drift_is_detected(db_url: URL) -> None:
    """The drift check reports a column the migrations do not create."""
    from sqlalchemy import Column, Integer, MetaData

    drifted = MetaData()
    for table in metadata.tables.values():
        copied = table.to_metadata(drifted)
        # The copy forgets which backends a constraint is made on (shots_sent's foreign key).
        rules = {c.name: c._ddl_if for c in table.constraints if c._ddl_if is not None}
        for constraint in copied.constraints:
            constraint._ddl_if = rules.get(constraint.name, constraint._ddl_if)
    drifted.tables["bots"].append_column(Column("extra_column", Integer))
    differences = migrate.schema_differences(db_url, drifted)
    assert [d[0] for d in differences] == ["add_column"]
    assert differences[0][2] == "bots"
    assert differences[0][3].name == "extra_column"


def test_0004_keeps_shots_and_deliveries(empty_db_url: URL) -> None:
    """Rebuilding shots_queue (SQLite) keeps every shot, delivery and index; down and up again."""
    from sqlalchemy import text

    migrate.upgrade(empty_db_url, "0003")
    engine = create_engine(sync_url(empty_db_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bots (slug, token, webhook_secret) VALUES ('loja', 't', 's')")
            )
            conn.execute(
                text(
                    "INSERT INTO shots_queue (id, bot_slug, target, copy, status, locked_by)"
                    " VALUES (7, 'loja', 'started', 'Oi', 'running', 'w1')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO shots_sent (shot_id, bot_slug, telegram_id, seq, status)"
                    " VALUES (7, 'loja', 42, 1, 'sent')"
                )
            )
        for revision in ("head", "0003", "head"):
            (migrate.upgrade if revision == "head" else migrate.downgrade)(empty_db_url, revision)
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM shots_sent")).scalar() == 1
                assert conn.execute(text("SELECT status FROM shots_queue")).scalar() == "running"
            indexes = {i["name"]: i for i in inspect(engine).get_indexes("shots_queue")}
            running = indexes["uq_shots_queue_running_bot"]
            assert running["unique"]
            where = running["dialect_options"]
            assert "running" in str(where.get("sqlite_where", where.get("postgresql_where")))
        with engine.begin() as conn:  # a second running shot of the bot is still refused
            conn.execute(
                text(
                    "INSERT INTO shots_queue (bot_slug, target, copy, status)"
                    " VALUES ('loja', 'started', 'Oi', 'pending')"
                )
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE shots_queue SET status = 'running' WHERE id <> 7"))
    finally:
        engine.dispose()


def test_0008_adds_up_what_was_delivered_before_it(empty_db_url: URL) -> None:
    """The rollup starts with the deliveries and conversions made before 0008: recipients by
    the hour of their outcome, a holdout member and a cancelled skip left out."""
    from sqlalchemy import text

    migrate.upgrade(empty_db_url, "0007")
    engine = create_engine(sync_url(empty_db_url))
    rows = [
        (1, "sent", None, "2026-11-03 14:05:00", "2026-11-03 14:05:00"),
        (2, "sent", None, "2026-11-03 14:59:00", "2026-11-03 14:59:00"),
        (3, "skipped", "blocked", None, "2026-11-03 14:10:00"),
        (4, "error", None, None, "2026-11-03 15:00:00"),
        (5, "holdout", None, None, "2026-11-03 14:10:00"),
        (6, "skipped", "cancelled", None, "2026-11-03 16:00:00"),
        (7, "pending", None, None, None),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bots (slug, token, webhook_secret) VALUES ('loja', 't', 's')")
            )
            conn.execute(
                text(
                    "INSERT INTO shots_queue (id, bot_slug, target, copy, status)"
                    " VALUES (7, 'loja', 'started', 'Oi', 'running')"
                )
            )
            for tid, status, reason, sent_at, updated_at in rows:
                conn.execute(
                    text(
                        "INSERT INTO shots_sent (shot_id, bot_slug, telegram_id, seq, status,"
                        " reason, sent_at, updated_at) VALUES (7, 'loja', :tid, :tid, :status,"
                        " :reason, :sent_at, :updated_at)"
                    ),
                    {"tid": tid, "status": status, "reason": reason, "sent_at": sent_at,
                     "updated_at": updated_at},
                )  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO shot_conversions (shot_id, event, telegram_id, converted_at,"
                    " revenue_cents, payments) VALUES (7, 'paid', 2, '2026-11-04 10:00:00',"
                    " 9980, 2), (7, 'pix_created', 2, '2026-11-04 09:00:00', 0, 0)"
                )
            )
        migrate.upgrade(empty_db_url)
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT recipients, delivered, blocked, pix, paid, revenue_cents"
                    " FROM report_hours WHERE shot_id = 7 ORDER BY hour"
                )
            ).all()
        assert [tuple(r) for r in found] == [(3, 2, 1, 1, 1, 9980), (1, 0, 0, 0, 0, 0)]
    finally:
        engine.dispose()
