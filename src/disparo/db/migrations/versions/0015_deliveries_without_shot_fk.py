"""PostgreSQL: `shots_sent` no longer checks its shot's existence per row.

The foreign key from `shots_sent.shot_id` to `shots_queue` cost a lookup of the shot for every
delivery a snapshot writes (EXPLAIN ANALYZE: about a third of the insert), which a million-
recipient audience pays a million times. Shots are never deleted on their own; deleting a bot
deletes its deliveries itself (`db/bots.py`), before the cascade from `bots` takes its shots.
SQLite keeps the constraint (dropping it would rebuild the table, and its check is a cheap
lookup there).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

NAME = "fk_shots_sent_shot_id_shots_queue"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(NAME, "shots_sent", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Deliveries of a shot deleted meanwhile would refuse the constraint: they go first.
        op.execute(
            "DELETE FROM shots_sent s"
            " WHERE NOT EXISTS (SELECT 1 FROM shots_queue q WHERE q.id = s.shot_id)"
        )
        op.create_foreign_key(
            NAME, "shots_sent", "shots_queue", ["shot_id"], ["id"], ondelete="CASCADE"
        )
