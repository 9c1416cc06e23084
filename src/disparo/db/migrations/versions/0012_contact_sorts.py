"""Indexes for the contacts table of the admin page: its time sorts walk (bot_slug, time,
telegram_id) from the page's position; without them every page of a 1,000,000-contact bot
sorts all its contacts (BENCHMARKS.md, contacts page).

On PostgreSQL the index builds hold writes to telegram_contacts until the migration commits.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEXES = (
    ("idx_telegram_contacts_interaction", ["bot_slug", "last_interaction_at", "telegram_id"]),
    ("idx_telegram_contacts_started", ["bot_slug", "started_at", "telegram_id"]),
)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "telegram_contacts", columns)


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, table_name="telegram_contacts")
