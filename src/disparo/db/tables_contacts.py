"""Indexes of the contacts table of the admin page (migrations 0012, 0014): each sort it offers
is a walk down one index of the bot's contacts, so a page reads its rows and no more.

`telegram_contacts.total_paid_cents` (the sum of the contact's paid payments) is kept by
database triggers on payment_transactions and telegram_contacts (migration 0014), never written
by the code. The name search's index differs by backend and is not a table definition: a GIN
trigram index on PostgreSQL, an FTS5 table (and its shadow tables) on SQLite, both created and
kept by migration 0014 (on SQLite an import rewrites its documents after its merge, migration
0016); `TRIGGER_OBJECTS` names these objects for the schema comparison to pass over.
"""

from __future__ import annotations

from sqlalchemy import Index

from disparo.db.tables import telegram_contacts

c = telegram_contacts.c

contacts_by_interaction = Index(
    "idx_telegram_contacts_interaction", c.bot_slug, c.last_interaction_at, c.telegram_id
)
contacts_by_start = Index("idx_telegram_contacts_started", c.bot_slug, c.started_at, c.telegram_id)
contacts_by_total_paid = Index(
    "idx_telegram_contacts_total_paid", c.bot_slug, c.total_paid_cents, c.telegram_id
)

SEARCH_INDEX = "idx_telegram_contacts_search"
"""PostgreSQL: GIN (lower(first_name), lower(last_name), lower(username)) gin_trgm_ops."""
SEARCH_TABLE = "contact_search"
"""SQLite: FTS5 (trigram), rowid = telegram_id, the names of that id's contacts in every bot."""
STALE_SEARCH = "contact_search_stale"
"""SQLite: ids whose search documents an import has yet to rewrite; a search takes them as
candidates (migration 0016)."""
IMPORT_MERGES = "import_merges"
"""SQLite: a row only inside an import's merge, the contacts' row triggers skipping while it is
there (migration 0016, `db/import_derived.py`)."""
TRIGGER_OBJECTS = frozenset(
    {
        SEARCH_INDEX,
        SEARCH_TABLE,
        *(f"{SEARCH_TABLE}_{shadow}" for shadow in ("data", "idx", "content", "docsize", "config")),
        STALE_SEARCH,
        IMPORT_MERGES,
    }
)
