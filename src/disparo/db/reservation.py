"""The reservation's SQL: pick a shot's next pending deliveries, check each recipient again, and
move them to `sending` or `skipped`, per backend; with the send-time rules a shot may carry.

A reservation runs once per sending bot per second (up to 1,000 rows at a time), so its
statements are plain SQL compiled once. A shot with no rule runs the statements below as they
are; a frequency cap or a stop-on-conversion adds one correlated probe per picked delivery
(compiled once per combination of rules, `statements`). Literal states and reasons come from
the enums, never from input; every value is bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Integer, Text, bindparam, text
from sqlalchemy.sql.elements import BindParameter, TextClause

from disparo.db.audience import REACHABLE_CHAT_STATES
from disparo.db.raw import driver_sql
from disparo.db.types import UTCDateTime
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import (
    PIX_EVENTS,
    DeliveryStatus,
    PaymentStatus,
    ShotStatus,
    StopOn,
)

SENDING = DeliveryStatus.SENDING.value
PENDING = DeliveryStatus.PENDING.value
SKIPPED = DeliveryStatus.SKIPPED.value
SENT = DeliveryStatus.SENT.value
HOLDOUT = DeliveryStatus.HOLDOUT.value
INELIGIBLE = Reason.INELIGIBLE.value


@dataclass(frozen=True, slots=True)
class ReservationRules:
    """The send-time rules one reservation checks, as values for `now` (the sender builds them
    from the shot and its bot).

    `cap_max` with `cap_since`: a recipient already delivered `cap_max` shots of the bot since
    `cap_since` is skipped (frequency_cap). `stop_on` with `converted_since`: a recipient who
    created a PIX (pix_created) or paid (paid) since then is skipped (converted). `undecided`:
    winner mode before its decision, when only recipients with a variant (the test share and
    the holdout) are reserved.
    """

    cap_max: int | None = None
    cap_since: datetime | None = None
    stop_on: StopOn | None = None
    converted_since: datetime | None = None
    undecided: bool = False

    def __post_init__(self) -> None:
        if (self.cap_max is None) != (self.cap_since is None):
            raise ValueError("a frequency cap needs both cap_max and cap_since")
        if (self.stop_on is None) != (self.converted_since is None):
            raise ValueError("stop_on needs converted_since (the shot's created_at)")

    @property
    def applies(self) -> bool:
        """True when any rule applies (otherwise the reservation is the plain one)."""
        return self.cap_max is not None or self.stop_on is not None or self.undecided

    def statements(self) -> Statements:
        """The reservation's statements for these rules (compiled once per combination)."""
        return statements(self.cap_max is not None, self.stop_on, self.undecided)

    def params(self) -> dict[str, object]:
        """The bound values the rules' probes read."""
        values: dict[str, object] = {}
        if self.cap_max is not None:
            values.update(cap_max=self.cap_max, cap_since=self.cap_since)
        if self.stop_on is not None:
            values["converted_since"] = self.converted_since
        return values


NO_RULES = ReservationRules()


class Statements(NamedTuple):
    """One combination of rules compiled: PostgreSQL's single statement (driver SQL), and
    SQLite's fence and move."""

    postgresql: str
    sqlite_fence: TextClause
    sqlite_reserve: TextClause


# The plain reservation (no rule) ------------------------------------------------------------
# A holdout member (variant `holdout`) is checked like every recipient; one the checks let
# through is never sent anything: it becomes `holdout`, stamped with this moment (its turn).

_REACHABLE_SQL = ", ".join(f"'{state}'" for state in REACHABLE_CHAT_STATES)
_HELD = f"WHEN p.variant = '{HOLDOUT}' THEN '{HOLDOUT}'"
_RESERVE_SET = f"""
    status = CASE WHEN p.chat_state NOT IN ({_REACHABLE_SQL}) OR p.chat_state IS NULL
                  THEN '{SKIPPED}' {_HELD} ELSE '{SENDING}' END,
    reason = CASE WHEN p.chat_state IN ({_REACHABLE_SQL}) THEN NULL
                  WHEN p.chat_state IS NULL THEN '{INELIGIBLE}' ELSE p.chat_state END,
    updated_at = :now
"""


def _pick(probes: str = "", undecided: bool = False) -> str:
    decided = " AND s.variant IS NOT NULL" if undecided else ""
    return f"""
    SELECT s.telegram_id, s.variant, c.chat_state{probes}
    FROM shots_sent AS s
    LEFT JOIN telegram_contacts AS c ON c.bot_slug = s.bot_slug AND c.telegram_id = s.telegram_id
    WHERE s.shot_id = :shot_id AND s.status = '{PENDING}'{decided}
"""  # noqa: S608 - only constants are formatted in; values are bound


_RESERVE_PARAMS = (
    bindparam("shot_id", type_=BigInteger()),
    bindparam("worker_id", type_=Text()),
    bindparam("now", type_=UTCDateTime()),
    bindparam("limit", type_=Integer()),
)


# PostgreSQL: one round trip. The fence CTE reads the shot row FOR SHARE before any delivery
# moves (the EXISTS is a one-time filter of the pick), so a rescue of this shot either waits
# for this commit and then sees (and marks unknown) what was reserved, or it went first and
# the fence finds the lease gone and nothing moves. The picked ids are computed once and the
# update finds its rows by primary key (= ANY of them), so the plan stays a few index probes
# whatever the statistics (the statement is prepared, and a generic plan must not rescan the
# pick per pending row).
def _reserve_pg(pick: str, reserve_set: str) -> TextClause:
    return text(
        f"""
    WITH fence AS (
        SELECT status, locked_by, lease_expires_at FROM shots_queue WHERE id = :shot_id FOR SHARE
    ), picked AS MATERIALIZED (
        {pick}
          AND EXISTS (SELECT 1 FROM fence WHERE fence.status = '{ShotStatus.RUNNING.value}'
                      AND fence.locked_by = :worker_id AND fence.lease_expires_at > :now)
        ORDER BY s.seq
        LIMIT :limit
    ), moved AS (
        UPDATE shots_sent AS s SET {reserve_set}
        FROM picked AS p
        WHERE s.shot_id = :shot_id
          AND s.telegram_id = ANY(ARRAY(SELECT telegram_id FROM picked))
          AND s.telegram_id = p.telegram_id
        RETURNING s.telegram_id, s.seq, s.status, s.reason, s.variant
    )
    SELECT f.status AS shot_status,
           (f.locked_by = :worker_id AND f.lease_expires_at > :now) AS owned,
           m.telegram_id, m.seq, m.status, m.reason, m.variant
    FROM fence AS f LEFT JOIN moved AS m ON true
    """  # noqa: S608 - only constants are formatted in; values are bound
    ).bindparams(*_RESERVE_PARAMS)


# SQLite: the write transaction is BEGIN IMMEDIATE, so nothing runs between the two statements.
_FENCE_SQLITE = text(
    "SELECT status AS shot_status, (locked_by = :worker_id AND lease_expires_at > :now) AS owned "
    "FROM shots_queue WHERE id = :shot_id"
).bindparams(*_RESERVE_PARAMS[:3])


def _reserve_sqlite(pick: str, reserve_set: str) -> TextClause:
    return text(
        f"""
    UPDATE shots_sent SET {reserve_set}
    FROM ({pick} ORDER BY s.seq LIMIT :limit) AS p
    WHERE shots_sent.shot_id = :shot_id AND shots_sent.telegram_id = p.telegram_id
      AND shots_sent.status = '{PENDING}'
    RETURNING telegram_id, seq, status, reason, variant
    """  # noqa: S608 - only constants are formatted in; values are bound
    ).bindparams(_RESERVE_PARAMS[0], _RESERVE_PARAMS[2], _RESERVE_PARAMS[3])


_RESERVE_PG = _reserve_pg(_pick(), _RESERVE_SET)
PLAIN = Statements(driver_sql(_RESERVE_PG), _FENCE_SQLITE, _reserve_sqlite(_pick(), _RESERVE_SET))


# The rules' probes ---------------------------------------------------------------------------

_PIX_EVENTS_SQL = ", ".join(f"'{event}'" for event in PIX_EVENTS)
# Every payment status: a payment of any status is a PIX that was generated (and naming them
# all lets the probe seek idx_payment_transactions_status by bot, status and contact).
_PAYMENT_STATUSES_SQL = ", ".join(f"'{status.value}'" for status in PaymentStatus)

# Each probe is a scalar subquery over one contact's rows, so both planners run it per picked
# delivery as a few index seeks, whatever the bot's volume. (With the time range in an EXISTS,
# PostgreSQL hashed the probe over every recent PIX event and payment, a scan per reservation,
# and SQLite range-scanned the bot's payments since `converted_since` for each recipient:
# seconds per batch with 30k payments in the hour.) On SQLite the compared column is written
# `+column`, so that a max() of it cannot make the planner walk an index in that column's order
# (idx_payment_transactions_created from its end) instead of seeking the contact's rows;
# PostgreSQL has no unary plus for times and needs none.

# Deliveries of any shot of the bot sent to this contact in the window: idx_shots_sent_contact.
_CAPPED = f"""(
        SELECT count(*) FROM shots_sent AS h
        WHERE h.bot_slug = s.bot_slug AND h.telegram_id = s.telegram_id
          AND h.sent_at IS NOT NULL AND h.sent_at >= :cap_since AND h.status = '{SENT}'
    ) >= :cap_max"""  # noqa: S608 - only constants are formatted in; values are bound


def _converted(stop_on: StopOn, *, sqlite: bool) -> str:
    """Whether the picked delivery's contact converted since `converted_since`: its latest PIX
    event (the unique key of funnel_events) or payment (idx_payment_transactions_status), or
    its latest paid payment. A contact with none compares NULL, which no CASE takes for true."""
    plus = "+" if sqlite else ""
    if stop_on is StopOn.PAID:
        return f"""(
        SELECT max(coalesce(t.paid_at, t.created_at)) FROM payment_transactions AS t
        WHERE t.bot_slug = s.bot_slug AND t.status = '{PaymentStatus.PAID.value}'
          AND t.telegram_id = s.telegram_id
    ) >= :converted_since"""  # noqa: S608 - only constants are formatted in; values are bound
    return f"""((
        SELECT max({plus}f.occurred_at) FROM funnel_events AS f
        WHERE f.bot_slug = s.bot_slug AND f.telegram_id = s.telegram_id
          AND f.event IN ({_PIX_EVENTS_SQL})
    ) >= :converted_since OR (
        SELECT max({plus}t.created_at) FROM payment_transactions AS t
        WHERE t.bot_slug = s.bot_slug AND t.status IN ({_PAYMENT_STATUSES_SQL})
          AND t.telegram_id = s.telegram_id
    ) >= :converted_since)"""  # noqa: S608 - only constants are formatted in; values are bound


@cache
def statements(capped: bool, stop_on: StopOn | None, undecided: bool = False) -> Statements:
    """The reservation's statements for this combination of rules, compiled once; the plain
    ones when no rule applies."""
    if not capped and stop_on is None and not undecided:
        return PLAIN
    probes, skips, rules = {"pg": "", "sqlite": ""}, "", []
    binds: list[BindParameter[Any]] = []
    if stop_on is not None:
        for backend in probes:
            converted = _converted(stop_on, sqlite=backend == "sqlite")
            probes[backend] += f",\n        {converted} AS converted"
        skips += f"\n                  WHEN p.converted THEN '{Reason.CONVERTED.value}'"
        rules.append("p.converted")
        binds.append(bindparam("converted_since", type_=UTCDateTime()))
    if capped:
        for backend in probes:
            probes[backend] += f",\n        {_CAPPED} AS capped"
        skips += f"\n                  WHEN p.capped THEN '{Reason.FREQUENCY_CAP.value}'"
        rules.append("p.capped")
        binds += [
            bindparam("cap_max", type_=Integer()),
            bindparam("cap_since", type_=UTCDateTime()),
        ]
    # The first reason that holds names the skip: unreachable (as without rules), then
    # converted, then capped.
    unreachable = f"p.chat_state IS NULL OR p.chat_state NOT IN ({_REACHABLE_SQL})"
    reserve_set = f"""
    status = CASE WHEN {" OR ".join([unreachable, *rules])} THEN '{SKIPPED}' {_HELD}
                  ELSE '{SENDING}' END,
    reason = CASE WHEN p.chat_state IS NULL THEN '{INELIGIBLE}'
                  WHEN p.chat_state NOT IN ({_REACHABLE_SQL}) THEN p.chat_state{skips}
                  ELSE NULL END,
    updated_at = :now
"""
    postgresql = _reserve_pg(_pick(probes["pg"], undecided), reserve_set).bindparams(*binds)
    sqlite = _reserve_sqlite(_pick(probes["sqlite"], undecided), reserve_set).bindparams(*binds)
    return Statements(driver_sql(postgresql), _FENCE_SQLITE, sqlite)
