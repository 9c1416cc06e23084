"""`idx_shots_sent_slug_time` holds sent deliveries only (`WHERE sent_at IS NOT NULL`).

A snapshot writes a shot's whole audience with `sent_at` NULL; the full index took an entry
(and its WAL) for every one of those rows, a quarter of the snapshot's index work, and held
entries no query by bot and send time ever reads. A delivery enters the index when it is sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEX = "idx_shots_sent_slug_time"
COLUMNS = ["bot_slug", "sent_at"]


def upgrade() -> None:
    op.drop_index(INDEX, table_name="shots_sent")
    op.create_index(
        INDEX,
        "shots_sent",
        COLUMNS,
        postgresql_where=sa.text("sent_at IS NOT NULL"),
        sqlite_where=sa.text("sent_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="shots_sent")
    op.create_index(INDEX, "shots_sent", COLUMNS)
