"""A/B measurement: variants, a holdout, conversion events and the conversions they record.

- `shot_variants`: a shot's 2–5 versions (copy, media, buttons) with weights;
- `shot_goals`: a shot's conversion events with their windows (the first is the primary);
- `shot_conversions`: one row per recipient, event and shot that converted, written by
  triggers on `funnel_events` and `payment_transactions` in the transaction that writes the
  event or payment, whatever writes it (the webhook, polling, an import, the operator's own
  platform);
- `shots_queue`: `holdout_percent`, `winner` (winner mode's settings) and `winner_decision`;
- `shots_sent`: `variant` (a name, `holdout`, or NULL), the status `holdout`, `variant` appended
  to `idx_shots_sent_shot_id`, and `idx_shots_sent_turn` (the recipients reached without a
  delivery, by the time their turn came).

A conversion: an event that happens after the recipient's delivery (`sent_at`), or after a
holdout member's turn, or the turn of a recipient the shot could not reach (the `updated_at` of
its final row without `sent_at`: holdout, skipped, error, unknown), and within the event's
window. Every recipient of a group is followed from its turn (intention to treat): a variant's
unreachable recipients then count as the holdout's do, who are never tried.
`pix_created` is a PIX funnel event or a payment of any status (at its `created_at`); `paid` is
a payment that is or becomes paid (at its `paid_at`), and adds its amount to the conversion's
revenue; any other name is a funnel event of that name. A recipient converts once per event
and shot (the earliest time is kept); revenue adds every paid transaction in the window.

SQLite cannot change a CHECK constraint in place: `shots_sent` is rebuilt (Alembic's batch
mode) with foreign keys off, as in 0004. PostgreSQL: statement triggers over transition tables
(one set-based INSERT per COPY); SQLite: row triggers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disparo.db.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Frozen here on purpose: a migration must not change when the code does.
DELIVERY_BEFORE = "'pending', 'sending', 'sent', 'skipped', 'error', 'unknown'"
DELIVERY_AFTER = DELIVERY_BEFORE + ", 'holdout'"
DELIVERY_CHECK = "ck_shots_sent_status_valid"
MEDIA_TYPES = "'none', 'photo', 'video', 'audio'"
PIX_EVENTS = ("pix_created", "checkout_pix_created")
MAX_WINDOW_HOURS = 720
SENT_INDEX = "idx_shots_sent_shot_id"
TURN = "sent_at IS NULL AND status IN ('holdout', 'skipped', 'error', 'unknown')"
# A conversion already recorded changes only for an earlier event or a payment (a repeated
# event writes nothing, and leaves no dead row behind on PostgreSQL).
CHANGES = "excluded.converted_at < {row}.converted_at OR excluded.payments > 0"
S_TURN = TURN.replace("sent_at", "s.sent_at").replace("status", "s.status")


def _listed(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _foreign_keys_off() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "migration 0007 rebuilds shots_sent and must run with SQLite foreign keys off "
            "(`disparo migrate` does)"
        )


# Triggers ------------------------------------------------------------------------------------


def _funnel_goal(event: str) -> str:
    """The goal a funnel event counts for: a PIX event is `pix_created`; `paid` comes only from
    payments (a funnel event of that name counts for nothing)."""
    return (
        f"CASE WHEN {event} IN {_listed(PIX_EVENTS)} THEN 'pix_created'"
        f" WHEN {event} = 'paid' THEN NULL ELSE {event} END"
    )


def _sqlite_minus_window(at: str) -> str:
    return f"strftime('%Y-%m-%d %H:%M:%f', {at}, '-' || g.window_hours || ' hours')"


def _sqlite_exposures(slug: str, telegram_id: str, goal: str, at: str) -> str:
    """The deliveries and turns of contact (`slug`, `telegram_id`) whose window for `goal`
    holds `at`: a range of idx_shots_sent_contact or idx_shots_sent_turn (at most the longest
    window back), then the goal by primary key. Times are SQLite's UTC text, compared as text
    (every value has the same `YYYY-MM-DD HH:MM:SS` prefix form). The index is named: without
    statistics (SQLite has none until ANALYZE) the planner may take idx_shots_sent_slug_time,
    the bot's recent deliveries, instead (81 ms an event at 1M deliveries, not 0.1)."""
    oldest = f"strftime('%Y-%m-%d %H:%M:%f', {at}, '-{MAX_WINDOW_HOURS} hours')"
    parts = []
    for column, condition, index in (
        ("sent_at", "s.sent_at IS NOT NULL", "idx_shots_sent_contact"),
        ("updated_at", S_TURN, "idx_shots_sent_turn"),
    ):
        parts.append(
            f"SELECT s.shot_id, g.event, s.telegram_id, s.variant FROM shots_sent s"
            f" INDEXED BY {index}"
            f" JOIN shot_goals g ON g.shot_id = s.shot_id AND g.event = {goal}"
            f" WHERE s.bot_slug = {slug} AND s.telegram_id = {telegram_id} AND {condition}"
            f" AND s.{column} < {at} AND s.{column} >= {oldest}"
            f" AND s.{column} >= {_sqlite_minus_window(at)}"
        )
    return " UNION ALL ".join(parts)


def _sqlite_convert(goal: str, at: str, revenue: str, payments: str) -> str:
    exposures = _sqlite_exposures("NEW.bot_slug", "NEW.telegram_id", goal, at)
    return (
        "INSERT INTO shot_conversions"
        " (shot_id, event, telegram_id, variant, converted_at, revenue_cents, payments)"
        f" SELECT x.shot_id, x.event, x.telegram_id, x.variant, {at}, {revenue}, {payments}"
        f" FROM ({exposures}) x WHERE true"
        " ON CONFLICT (shot_id, event, telegram_id) DO UPDATE SET"
        " converted_at = min(converted_at, excluded.converted_at),"
        " revenue_cents = revenue_cents + excluded.revenue_cents,"
        " payments = payments + excluded.payments"
        f" WHERE {CHANGES.format(row='shot_conversions')}"
    )


def _goal_exists(slug: str, goal: str) -> str:
    return f"EXISTS (SELECT 1 FROM shot_goals g WHERE g.bot_slug = {slug} AND g.event = {goal})"


PAID_AT = "coalesce(NEW.paid_at, NEW.created_at)"
PIX, PAID = "'pix_created'", "'paid'"


def _sqlite_triggers() -> list[str]:
    goal = _funnel_goal("NEW.event")
    return [
        "CREATE TRIGGER trg_funnel_events_conversions AFTER INSERT ON funnel_events"
        f" WHEN {_goal_exists('NEW.bot_slug', goal)}"
        f" BEGIN {_sqlite_convert(goal, 'NEW.occurred_at', '0', '0')}; END",
        "CREATE TRIGGER trg_payment_transactions_conversions_pix"
        " AFTER INSERT ON payment_transactions"
        f" WHEN {_goal_exists('NEW.bot_slug', PIX)}"
        f" BEGIN {_sqlite_convert(PIX, 'NEW.created_at', '0', '0')};"
        " END",
        "CREATE TRIGGER trg_payment_transactions_conversions_paid"
        " AFTER INSERT ON payment_transactions"
        f" WHEN NEW.status = 'paid' AND {_goal_exists('NEW.bot_slug', PAID)}"
        f" BEGIN {_sqlite_convert(PAID, PAID_AT, 'NEW.amount_cents', '1')};"
        " END",
        "CREATE TRIGGER trg_payment_transactions_conversions_paid_update"
        " AFTER UPDATE OF status ON payment_transactions"
        " WHEN NEW.status = 'paid' AND OLD.status <> 'paid'"
        f" AND {_goal_exists('NEW.bot_slug', PAID)}"
        f" BEGIN {_sqlite_convert(PAID, PAID_AT, 'NEW.amount_cents', '1')};"
        " END",
    ]


SQLITE_TRIGGERS = (
    "trg_funnel_events_conversions",
    "trg_payment_transactions_conversions_pix",
    "trg_payment_transactions_conversions_paid",
    "trg_payment_transactions_conversions_paid_update",
)


def _pg_convert(facts: str) -> str:
    """One set-based INSERT of the conversions `facts` (rows of bot_slug, telegram_id, goal,
    at, revenue, payments) make, aggregated first so that one statement never touches a
    conversion twice."""
    window = "g.window_hours * interval '1 hour'"
    # LATERAL: each fact seeks its contact's rows in the index; a join could hash the whole
    # of shots_sent for every statement (the planner cannot count a transition table's rows).
    matches = " UNION ALL ".join(
        f"SELECT x.shot_id, g.event, f.telegram_id, x.variant, f.at, f.revenue, f.payments"
        f" FROM facts f CROSS JOIN LATERAL (SELECT s.shot_id, s.variant, s.{column} AS reached"
        f" FROM shots_sent s WHERE s.bot_slug = f.bot_slug AND s.telegram_id = f.telegram_id"
        f" AND {condition} AND s.{column} < f.at"
        f" AND s.{column} >= f.at - interval '{MAX_WINDOW_HOURS} hours') x"
        f" JOIN shot_goals g ON g.shot_id = x.shot_id AND g.event = f.goal"
        f" WHERE x.reached >= f.at - {window}"
        for column, condition in (
            ("sent_at", "s.sent_at IS NOT NULL"),
            ("updated_at", S_TURN),
        )
    )
    return f"""
        WITH facts AS MATERIALIZED ({facts}), matches AS ({matches})
        INSERT INTO shot_conversions
            (shot_id, event, telegram_id, variant, converted_at, revenue_cents, payments)
        SELECT shot_id, event, telegram_id, min(variant), min(at), sum(revenue), sum(payments)
        FROM matches GROUP BY shot_id, event, telegram_id
        ON CONFLICT (shot_id, event, telegram_id) DO UPDATE SET
            converted_at = LEAST(shot_conversions.converted_at, excluded.converted_at),
            revenue_cents = shot_conversions.revenue_cents + excluded.revenue_cents,
            payments = shot_conversions.payments + excluded.payments
        WHERE {CHANGES.format(row="shot_conversions")}
    """


def _pg_goal_filter(rows: str) -> str:
    return _goal_exists(f"{rows}.bot_slug", f"{rows}.goal")


def _pg_function(name: str, facts: str) -> str:
    """A statement trigger function running one set-based conversion INSERT. EXECUTE plans
    each run for the row counts at hand (one row from the webhook, thousands from a COPY)."""
    return f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            EXECUTE $q$ {_pg_convert(facts)} $q$;
            RETURN NULL;
        END $fn$
    """


def _pg_functions() -> list[str]:
    # Each source's facts, then only those of a goal some shot of the bot has.
    def wanted(facts: str) -> str:
        return f"SELECT * FROM ({facts}) n WHERE {_pg_goal_filter('n')}"

    funnel = (
        f"SELECT n.bot_slug, n.telegram_id, {_funnel_goal('n.event')} AS goal,"
        " n.occurred_at AS at, 0::bigint AS revenue, 0 AS payments FROM new_rows n"
    )
    paid = (
        "SELECT n.bot_slug, n.telegram_id, 'paid'::text AS goal,"
        " coalesce(n.paid_at, n.created_at) AS at, n.amount_cents AS revenue, 1 AS payments"
    )
    inserted = (
        "SELECT n.bot_slug, n.telegram_id, 'pix_created'::text AS goal, n.created_at AS at,"
        f" 0::bigint AS revenue, 0 AS payments FROM new_rows n"
        f" UNION ALL {paid} FROM new_rows n WHERE n.status = 'paid'"
    )
    became_paid = (
        f"{paid} FROM new_rows n JOIN old_rows o ON o.id = n.id"
        " WHERE n.status = 'paid' AND o.status <> 'paid'"
    )
    return [
        _pg_function("disparo_funnel_events_conversions", wanted(funnel)),
        _pg_function("disparo_payments_inserted_conversions", wanted(inserted)),
        _pg_function("disparo_payments_paid_conversions", wanted(became_paid)),
    ]


def _pg_triggers() -> list[str]:
    return [
        *_pg_functions(),
        "CREATE TRIGGER trg_funnel_events_conversions AFTER INSERT ON funnel_events"
        " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION disparo_funnel_events_conversions()",
        "CREATE TRIGGER trg_payment_transactions_conversions_insert"
        " AFTER INSERT ON payment_transactions REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION disparo_payments_inserted_conversions()",
        "CREATE TRIGGER trg_payment_transactions_conversions_update"
        " AFTER UPDATE ON payment_transactions"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION disparo_payments_paid_conversions()",
    ]


PG_TRIGGERS = (
    ("trg_funnel_events_conversions", "funnel_events"),
    ("trg_payment_transactions_conversions_insert", "payment_transactions"),
    ("trg_payment_transactions_conversions_update", "payment_transactions"),
)
PG_FUNCTIONS = (
    "disparo_funnel_events_conversions",
    "disparo_payments_inserted_conversions",
    "disparo_payments_paid_conversions",
)


# Upgrade and downgrade -----------------------------------------------------------------------


def _shot_id() -> sa.Column[int]:
    return sa.Column("shot_id", sa.BigInteger(), nullable=False)


def _shot_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shot_id"], ["shots_queue.id"], name=f"fk_{table}_shot_id_shots_queue", ondelete="CASCADE"
    )


def upgrade() -> None:
    _foreign_keys_off()
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("shots_queue") as batch:
        batch.add_column(
            sa.Column("holdout_percent", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("winner", sa.JSON()))
        batch.add_column(sa.Column("winner_decision", sa.JSON()))
        batch.create_check_constraint(
            "ck_shots_queue_holdout_range", "holdout_percent >= 0 AND holdout_percent <= 50"
        )
    op.drop_index(SENT_INDEX, table_name="shots_sent")
    with op.batch_alter_table("shots_sent") as batch:
        batch.add_column(sa.Column("variant", sa.Text()))
        batch.drop_constraint(DELIVERY_CHECK, type_="check")
        batch.create_check_constraint(DELIVERY_CHECK, f"status IN ({DELIVERY_AFTER})")
    op.create_index(SENT_INDEX, "shots_sent", ["shot_id", "status", "seq", "variant"])
    op.create_index(
        "idx_shots_sent_turn",
        "shots_sent",
        ["bot_slug", "telegram_id", "updated_at"],
        postgresql_where=sa.text(TURN),
        sqlite_where=sa.text(TURN),
    )
    op.create_table(
        "shot_variants",
        _shot_id(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("copy", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), server_default=sa.text("'none'"), nullable=False),
        sa.Column("media_url", sa.Text()),
        sa.Column("buttons", sa.JSON()),
        sa.Column("weight", sa.Integer(), nullable=False),
        _shot_fk("shot_variants"),
        sa.PrimaryKeyConstraint("shot_id", "position", name="pk_shot_variants"),
        sa.UniqueConstraint("shot_id", "name", name="uq_shot_variants_shot_id_name"),
        sa.CheckConstraint(
            f"media_type IN ({MEDIA_TYPES})", name="ck_shot_variants_media_type_valid"
        ),
        sa.CheckConstraint("weight >= 1 AND weight <= 100", name="ck_shot_variants_weight_range"),
    )
    op.create_table(
        "shot_goals",
        _shot_id(),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("window_hours", sa.Integer(), nullable=False),
        _shot_fk("shot_goals"),
        sa.PrimaryKeyConstraint("shot_id", "event", name="pk_shot_goals"),
        sa.CheckConstraint(
            f"window_hours >= 1 AND window_hours <= {MAX_WINDOW_HOURS}",
            name="ck_shot_goals_window_range",
        ),
    )
    op.create_index("idx_shot_goals_bot_event", "shot_goals", ["bot_slug", "event"])
    op.create_table(
        "shot_conversions",
        _shot_id(),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("variant", sa.Text()),
        sa.Column("converted_at", UTCDateTime(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("payments", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _shot_fk("shot_conversions"),
        sa.PrimaryKeyConstraint("shot_id", "event", "telegram_id", name="pk_shot_conversions"),
    )
    op.create_index(
        "idx_shot_conversions_report",
        "shot_conversions",
        ["shot_id", "event", "variant", "converted_at", "revenue_cents"],
    )
    for statement in _sqlite_triggers() if sqlite else _pg_triggers():
        op.execute(statement)


def downgrade() -> None:
    _foreign_keys_off()
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
    else:
        for trigger, table in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        for function in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_table("shot_conversions")
    op.drop_table("shot_goals")
    op.drop_table("shot_variants")
    op.drop_index("idx_shots_sent_turn", table_name="shots_sent")
    op.drop_index(SENT_INDEX, table_name="shots_sent")
    # A holdout member becomes what it is closest to before this revision: skipped.
    op.execute(
        "UPDATE shots_sent SET status = 'skipped', reason = 'holdout' WHERE status = 'holdout'"
    )
    with op.batch_alter_table("shots_sent") as batch:
        batch.drop_constraint(DELIVERY_CHECK, type_="check")
        batch.create_check_constraint(DELIVERY_CHECK, f"status IN ({DELIVERY_BEFORE})")
        batch.drop_column("variant")
    op.create_index(SENT_INDEX, "shots_sent", ["shot_id", "status", "seq"])
    with op.batch_alter_table("shots_queue") as batch:
        batch.drop_constraint("ck_shots_queue_holdout_range", type_="check")
        batch.drop_column("winner_decision")
        batch.drop_column("winner")
        batch.drop_column("holdout_percent")
