"""A shot's audience written in chunks while it sends: `shots_queue.audience_complete`.

The snapshot writes the first recipients in send order and commits (the first message leaves
at once), then writes the rest in chunks; `audience_total` counts the rows written so far and
`audience_complete` turns true with the last chunk. Shots snapshotted before this revision were
written whole: the column's default says so.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "shots_queue",
        sa.Column("audience_complete", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    op.drop_column("shots_queue", "audience_complete")
