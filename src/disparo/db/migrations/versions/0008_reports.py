"""Reports: click tracking, replies and an hourly rollup of what the reports add up.

- `shots_queue`: `track_clicks` (URL buttons go through `/r/{code}`; on by default) and
  `track_copy_links` (links in the copy too; off by default);
- `link_keys`: the secret that signs tracked links, made here (random, never leaves the
  database);
- `shot_clicks`: every click on a tracked link; `shot_responses`: a recipient's first click and
  first reply per shot (the primary key counts each once, whoever writes);
- `report_hours`: per shot and hour of delivery (UTC), recipients, delivered, blocked,
  deactivated, clicks, clicked, replies, PIX, paid and revenue. Written only by the triggers
  here, in the transaction of the facts they count; existing deliveries and conversions are
  added up once, at the upgrade.

What the triggers count, at the hour of the delivery (its `sent_at`, else the `updated_at` of
its outcome):
- a delivery leaving `pending`/`sending` for `sent`, `skipped`, `error` or `unknown` is a
  recipient (a holdout member is not, nor one a cancel took out); `sent` is delivered; reasons
  `blocked` and `deactivated` are counted as such;
- a click adds to `clicks`; a first click to `clicked`; a first reply to `replies`;
- a conversion of a delivered recipient on `pix_created` or `paid` adds to `pix` or `paid`, and
  a paid one's revenue (also when a later payment adds to it) to `revenue_cents`.

PostgreSQL: statement triggers over transition tables (one upsert per statement); SQLite: row
triggers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from disparo.db.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Frozen here on purpose: a migration must not change when the code does.
BEFORE = "('pending', 'sending')"
FINAL = "('sent', 'skipped', 'error', 'unknown')"
COUNTS = (
    "recipients",
    "delivered",
    "blocked",
    "deactivated",
    "clicks",
    "clicked",
    "replies",
    "pix",
    "paid",
    "revenue_cents",
)


def _hour(at: str, sqlite: bool) -> str:
    """The UTC hour `at` falls in, in the backend's own time format."""
    if sqlite:  # naive UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]'
        return f"substr({at}, 1, 13) || ':00:00.000000'"
    return f"date_trunc('hour', {at}, 'UTC')"


def _upsert(columns: tuple[str, ...], select: str) -> str:
    """Add `select`'s rows (shot_id, hour, bot_slug, then `columns`) to the rollup."""
    added = ", ".join(f"{c} = report_hours.{c} + excluded.{c}" for c in columns)
    return (
        f"INSERT INTO report_hours (shot_id, hour, bot_slug, {', '.join(columns)}) {select}"
        f" ON CONFLICT (shot_id, hour) DO UPDATE SET {added}"
    )


# Conditions on the new row (NEW / n), a delivery (s) or a conversion (c).
SENT_NEW = "NEW.status = 'sent'"
BLOCKED_NEW = "NEW.reason = 'blocked'"
DEACTIVATED_NEW = "NEW.reason = 'deactivated'"
CLICK_NEW = "NEW.kind = 'click'"
REPLY_NEW = "NEW.kind = 'reply'"
PIX_NEW = "NEW.event = 'pix_created'"
PAID_NEW = "NEW.event = 'paid'"
SENT_N = "n.status = 'sent'"
BLOCKED_N = "n.reason = 'blocked'"
DEACTIVATED_N = "n.reason = 'deactivated'"
CLICK_N = "n.kind = 'click'"
REPLY_N = "n.kind = 'reply'"
PIX_N = "n.event = 'pix_created'"
PAID_N = "n.event = 'paid'"
SENT_S = "s.status = 'sent'"
BLOCKED_S = "s.reason = 'blocked'"
DEACTIVATED_S = "s.reason = 'deactivated'"
PIX_C = "c.event = 'pix_created'"
PAID_C = "c.event = 'paid'"
OUTCOME = ("recipients", "delivered", "blocked", "deactivated")
CONVERSION = ("pix", "paid", "revenue_cents")
RESPONSE = ("clicked", "replies")


def _counted(status: str, reason: str) -> str:
    """A final outcome that makes a recipient (not a skip by a cancel)."""
    cancelled = f"{status} = 'skipped' AND coalesce({reason}, '') = 'cancelled'"
    return f"{status} IN {FINAL} AND NOT ({cancelled})"


def _when(at: str) -> str:
    return f"coalesce({at}.sent_at, {at}.updated_at)"


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


# SQLite --------------------------------------------------------------------------------------


NEW_WHEN = "coalesce(NEW.sent_at, NEW.updated_at, OLD.updated_at)"


def _sqlite_triggers() -> list[str]:
    hour = _hour(_when("s"), sqlite=True)
    delivery = "FROM shots_sent s WHERE s.shot_id = NEW.shot_id AND s.telegram_id = NEW.telegram_id"
    outcome = _upsert(
        OUTCOME,
        f"SELECT NEW.shot_id, {_hour(NEW_WHEN, sqlite=True)},"
        f" NEW.bot_slug, 1, {_flag(SENT_NEW)}, {_flag(BLOCKED_NEW)},"
        f" {_flag(DEACTIVATED_NEW)} WHERE true",
    )
    return [
        "CREATE TRIGGER trg_report_hours_outcome AFTER UPDATE OF status ON shots_sent"
        f" WHEN OLD.status IN {BEFORE} AND {_counted('NEW.status', 'NEW.reason')}"
        f" AND {NEW_WHEN} IS NOT NULL"
        f" BEGIN {outcome}; END",
        "CREATE TRIGGER trg_report_hours_click AFTER INSERT ON shot_clicks BEGIN "
        + _upsert(
            ("clicks",),
            f"SELECT s.shot_id, {hour}, s.bot_slug, 1 {delivery} AND {_when('s')} IS NOT NULL",
        )
        + "; END",
        "CREATE TRIGGER trg_report_hours_response AFTER INSERT ON shot_responses BEGIN "
        + _upsert(
            RESPONSE,
            f"SELECT s.shot_id, {hour}, s.bot_slug, {_flag(CLICK_NEW)},"
            f" {_flag(REPLY_NEW)} {delivery} AND {_when('s')} IS NOT NULL",
        )
        + "; END",
        "CREATE TRIGGER trg_report_hours_sale AFTER INSERT ON shot_conversions"
        " WHEN NEW.event IN ('pix_created', 'paid') BEGIN "
        + _upsert(
            CONVERSION,
            f"SELECT s.shot_id, {hour}, s.bot_slug, {_flag(PIX_NEW)},"
            f" {_flag(PAID_NEW)}, NEW.revenue_cents {delivery} AND s.status = 'sent'",
        )
        + "; END",
        "CREATE TRIGGER trg_report_hours_revenue AFTER UPDATE OF revenue_cents"
        " ON shot_conversions WHEN NEW.event = 'paid' AND NEW.revenue_cents <> OLD.revenue_cents"
        " BEGIN "
        + _upsert(
            ("revenue_cents",),
            f"SELECT s.shot_id, {hour}, s.bot_slug, NEW.revenue_cents - OLD.revenue_cents"
            f" {delivery} AND s.status = 'sent'",
        )
        + "; END",
    ]


SQLITE_TRIGGERS = (
    "trg_report_hours_outcome",
    "trg_report_hours_click",
    "trg_report_hours_response",
    "trg_report_hours_sale",
    "trg_report_hours_revenue",
)


# PostgreSQL ----------------------------------------------------------------------------------


def _pg_selects() -> dict[str, str]:
    hour = _hour(_when("s"), sqlite=False)
    join = "JOIN shots_sent s ON s.shot_id = n.shot_id AND s.telegram_id = n.telegram_id"
    count = "count(*) FILTER (WHERE {})"
    n_hour = _hour("coalesce(n.sent_at, n.updated_at, o.updated_at)", sqlite=False)
    return {
        "disparo_report_hours_outcome": _upsert(
            OUTCOME,
            f"SELECT n.shot_id, {n_hour}, min(n.bot_slug), count(*),"
            f" {count.format(SENT_N)}, {count.format(BLOCKED_N)},"
            f" {count.format(DEACTIVATED_N)}"
            " FROM new_rows n JOIN old_rows o"
            " ON o.shot_id = n.shot_id AND o.telegram_id = n.telegram_id"
            f" WHERE o.status IN {BEFORE} AND {_counted('n.status', 'n.reason')}"
            " AND coalesce(n.sent_at, n.updated_at, o.updated_at) IS NOT NULL GROUP BY 1, 2",
        ),
        "disparo_report_hours_click": _upsert(
            ("clicks",),
            f"SELECT s.shot_id, {hour}, min(s.bot_slug), count(*) FROM new_rows n {join}"
            f" WHERE {_when('s')} IS NOT NULL GROUP BY 1, 2",
        ),
        "disparo_report_hours_response": _upsert(
            RESPONSE,
            f"SELECT s.shot_id, {hour}, min(s.bot_slug), {count.format(CLICK_N)},"
            f" {count.format(REPLY_N)} FROM new_rows n {join}"
            f" WHERE {_when('s')} IS NOT NULL GROUP BY 1, 2",
        ),
        "disparo_report_hours_sale": _upsert(
            CONVERSION,
            f"SELECT s.shot_id, {hour}, min(s.bot_slug), {count.format(PIX_N)},"
            f" {count.format(PAID_N)},"
            " coalesce(sum(n.revenue_cents) FILTER (WHERE n.event = 'paid'), 0)"
            f" FROM new_rows n {join} WHERE s.status = 'sent'"
            " AND n.event IN ('pix_created', 'paid') GROUP BY 1, 2",
        ),
        "disparo_report_hours_revenue": _upsert(
            ("revenue_cents",),
            f"SELECT s.shot_id, {hour}, min(s.bot_slug), sum(n.revenue_cents - o.revenue_cents)"
            " FROM new_rows n JOIN old_rows o ON o.shot_id = n.shot_id AND o.event = n.event"
            f" AND o.telegram_id = n.telegram_id {join} WHERE s.status = 'sent'"
            " AND n.event = 'paid' AND n.revenue_cents <> o.revenue_cents GROUP BY 1, 2",
        ),
    }


# (trigger, table, event, transition tables, function)
BOTH = "OLD TABLE AS old_rows NEW TABLE AS new_rows"
PG_TRIGGERS = (
    ("trg_report_hours_outcome", "shots_sent", "UPDATE", BOTH,
     "disparo_report_hours_outcome"),
    ("trg_report_hours_click", "shot_clicks", "INSERT", "NEW TABLE AS new_rows",
     "disparo_report_hours_click"),
    ("trg_report_hours_response", "shot_responses", "INSERT", "NEW TABLE AS new_rows",
     "disparo_report_hours_response"),
    ("trg_report_hours_sale", "shot_conversions", "INSERT", "NEW TABLE AS new_rows",
     "disparo_report_hours_sale"),
    ("trg_report_hours_revenue", "shot_conversions", "UPDATE",
     BOTH, "disparo_report_hours_revenue"),
)  # fmt: skip


def _pg_triggers() -> list[str]:
    statements = [
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$"
        f" BEGIN {select}; RETURN NULL; END $fn$"
        for name, select in _pg_selects().items()
    ]
    statements += [
        f"CREATE TRIGGER {trigger} AFTER {event} ON {table} REFERENCING {tables}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for trigger, table, event, tables, function in PG_TRIGGERS
    ]
    return statements


# Upgrade and downgrade -----------------------------------------------------------------------


def _shot_id() -> sa.Column[int]:
    return sa.Column("shot_id", sa.BigInteger(), nullable=False)


def _shot_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shot_id"], ["shots_queue.id"], name=f"fk_{table}_shot_id_shots_queue", ondelete="CASCADE"
    )


def _backfill(sqlite: bool) -> None:
    """The rollup of what happened before this revision: outcomes, then conversions."""
    hour = _hour(_when("s"), sqlite)
    op.execute(
        _upsert(
            OUTCOME,
            f"SELECT s.shot_id, {hour}, min(s.bot_slug), count(*),"
            f" sum({_flag(SENT_S)}), sum({_flag(BLOCKED_S)}),"
            f" sum({_flag(DEACTIVATED_S)}) FROM shots_sent s"
            f" WHERE {_counted('s.status', 's.reason')} AND {_when('s')} IS NOT NULL"
            " GROUP BY 1, 2",
        )
    )
    op.execute(
        _upsert(
            CONVERSION,
            f"SELECT s.shot_id, {hour}, min(s.bot_slug), sum({_flag(PIX_C)}),"
            f" sum({_flag(PAID_C)}),"
            f" sum(CASE WHEN c.event = 'paid' THEN c.revenue_cents ELSE 0 END)"
            " FROM shot_conversions c JOIN shots_sent s"
            " ON s.shot_id = c.shot_id AND s.telegram_id = c.telegram_id"
            " WHERE s.status = 'sent' AND c.event IN ('pix_created', 'paid') GROUP BY 1, 2",
        )
    )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("shots_queue") as batch:
        batch.add_column(
            sa.Column("track_clicks", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(
            sa.Column("track_copy_links", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "link_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_link_keys"),
    )
    op.get_bind().execute(
        sa.text("INSERT INTO link_keys (id, secret) VALUES (1, :secret)"),
        {"secret": secrets.token_bytes(32)},
    )
    op.create_table(
        "shot_clicks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        _shot_id(),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("variant", sa.Text()),
        sa.Column("link", sa.Integer(), nullable=False),
        sa.Column("clicked_at", UTCDateTime(), nullable=False),
        _shot_fk("shot_clicks"),
        sa.PrimaryKeyConstraint("id", name="pk_shot_clicks"),
    )
    op.create_index("idx_shot_clicks_recipient", "shot_clicks", ["shot_id", "telegram_id"])
    op.create_table(
        "shot_responses",
        _shot_id(),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("responded_at", UTCDateTime(), nullable=False),
        _shot_fk("shot_responses"),
        sa.PrimaryKeyConstraint("shot_id", "kind", "telegram_id", name="pk_shot_responses"),
        sa.CheckConstraint("kind IN ('click', 'reply')", name="ck_shot_responses_kind_valid"),
    )
    op.create_table(
        "report_hours",
        _shot_id(),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("bot_slug", sa.Text(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False)
            for name in COUNTS
        ),
        _shot_fk("report_hours"),
        sa.PrimaryKeyConstraint("shot_id", "hour", name="pk_report_hours"),
    )
    op.create_index("idx_report_hours_bot", "report_hours", ["bot_slug", "hour"])
    _backfill(sqlite)
    for statement in _sqlite_triggers() if sqlite else _pg_triggers():
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
    else:
        for trigger, table, _event, _tables, function in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_table("report_hours")
    op.drop_table("shot_responses")
    op.drop_table("shot_clicks")
    op.drop_table("link_keys")
    with op.batch_alter_table("shots_queue") as batch:
        batch.drop_column("track_copy_links")
        batch.drop_column("track_clicks")
