"""How a reserved delivery leaves `sending`: its outcome recorded, or back to pending, or unknown.

Every write here is only over `sending`, so a delivery a rescue already marked `unknown` keeps
that outcome and one never reserved is never touched. Outcomes come in batches (one statement
per batch) because the engine records thousands of them a second.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import orjson
from sqlalchemy import Integer, Text, bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.deliveries import ContactChange, DeliveryOutcome
from disparo.db.engine import Database
from disparo.db.tables import shots_sent, telegram_contacts
from disparo.db.types import UTCDateTime
from disparo.db.webhook_events import record_contacts_unreachable
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import DeliveryStatus

s = shots_sent.c
c = telegram_contacts.c
SENDING = DeliveryStatus.SENDING.value
PENDING = DeliveryStatus.PENDING.value
UNKNOWN = DeliveryStatus.UNKNOWN.value
LOST_ERROR = "the worker sending it stopped answering before recording the result"


# The batch travels as one JSON document (orjson writes the outcome dataclasses in C), which
# costs the worker a fraction of binding eight arrays element by element.
_RECORD_PG = text(
    """
    UPDATE shots_sent AS s
    SET status = v.status, reason = v.reason, error = v.error, message_id = v.message_id,
        sent_at = v.sent_at, attempts = v.attempts, audio_message_id = v.audio_message_id,
        updated_at = :now
    FROM json_to_recordset(CAST(:outcomes AS json)) AS v(
        shot_id bigint, telegram_id bigint, status text, reason text, error text,
        message_id bigint, sent_at timestamptz, attempts integer, audio_message_id bigint
    )
    WHERE s.shot_id = v.shot_id AND s.telegram_id = v.telegram_id AND s.status = 'sending'
    """
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("outcomes", type_=Text()))
_CONTACTS_PG = text(
    """
    UPDATE telegram_contacts AS t
    SET chat_state = v.chat_state, blocked_at = :now, updated_at = :now
    FROM unnest(CAST(:bot_slugs AS text[]), CAST(:telegram_ids AS bigint[]),
                CAST(:chat_states AS text[])) AS v(bot_slug, telegram_id, chat_state)
    WHERE t.bot_slug = v.bot_slug AND t.telegram_id = v.telegram_id
      AND t.chat_state <> v.chat_state
    """
)
_RECORD_ONE = (
    update(shots_sent)
    .where(
        s.shot_id == bindparam("k_shot_id"),
        s.telegram_id == bindparam("k_telegram_id"),
        s.status == SENDING,
    )
    .values(
        status=bindparam("v_status", type_=Text()),
        reason=bindparam("v_reason", type_=Text()),
        error=bindparam("v_error", type_=Text()),
        message_id=bindparam("v_message_id"),
        sent_at=bindparam("v_sent_at", type_=UTCDateTime()),
        attempts=bindparam("v_attempts", type_=Integer()),
        audio_message_id=bindparam("v_audio_message_id"),
        updated_at=bindparam("v_now", type_=UTCDateTime()),
    )
)
_CONTACT_ONE = (
    update(telegram_contacts)
    .where(
        c.bot_slug == bindparam("k_bot_slug"),
        c.telegram_id == bindparam("k_telegram_id"),
        c.chat_state != bindparam("v_chat_state"),
    )
    .values(
        chat_state=bindparam("v_chat_state"),
        blocked_at=bindparam("v_now", type_=UTCDateTime()),
        updated_at=bindparam("v_now", type_=UTCDateTime()),
    )
)


async def record_outcomes(
    db: Database,
    outcomes: Sequence[DeliveryOutcome],
    contact_changes: Sequence[ContactChange] = (),
    *,
    now: datetime,
) -> None:
    """Write a batch of final outcomes (only over `sending`) and prune unreachable contacts."""
    if not outcomes and not contact_changes:
        return
    async with db.write() as conn:
        if contact_changes:  # webhook events first: they compare with the state before
            await _contact_events(conn, outcomes, contact_changes, now)
        if conn.dialect.name == "postgresql":
            await _record_pg(conn, outcomes, contact_changes, now)
        else:
            await _record_each(conn, outcomes, contact_changes, now)


async def _contact_events(
    conn: AsyncConnection,
    outcomes: Sequence[DeliveryOutcome],
    changes: Sequence[ContactChange],
    now: datetime,
) -> None:
    found = {ch.telegram_id for ch in changes}
    shot_ids = {o.telegram_id: o.shot_id for o in outcomes if o.telegram_id in found}
    await record_contacts_unreachable(
        conn,
        [(ch.bot_slug, ch.telegram_id, ch.chat_state) for ch in changes],
        now=now,
        source="send",
        shot_ids=shot_ids,
    )


async def _record_pg(
    conn: AsyncConnection,
    outcomes: Sequence[DeliveryOutcome],
    changes: Sequence[ContactChange],
    now: datetime,
) -> None:
    if outcomes:
        rows = orjson.dumps(outcomes).decode()
        await conn.execute(_RECORD_PG, {"now": now, "outcomes": rows})
    if changes:
        await conn.execute(
            _CONTACTS_PG,
            {
                "now": now,
                "bot_slugs": [ch.bot_slug for ch in changes],
                "telegram_ids": [ch.telegram_id for ch in changes],
                "chat_states": [ch.chat_state for ch in changes],
            },
        )


async def _record_each(
    conn: AsyncConnection,
    outcomes: Sequence[DeliveryOutcome],
    changes: Sequence[ContactChange],
    now: datetime,
) -> None:
    if outcomes:
        await conn.execute(
            _RECORD_ONE,
            [
                {
                    "k_shot_id": o.shot_id,
                    "k_telegram_id": o.telegram_id,
                    "v_status": o.status,
                    "v_reason": o.reason,
                    "v_error": o.error,
                    "v_message_id": o.message_id,
                    "v_sent_at": o.sent_at,
                    "v_attempts": o.attempts,
                    "v_audio_message_id": o.audio_message_id,
                    "v_now": now,
                }
                for o in outcomes
            ],
        )
    if changes:
        await conn.execute(
            _CONTACT_ONE,
            [
                {
                    "k_bot_slug": ch.bot_slug,
                    "k_telegram_id": ch.telegram_id,
                    "v_chat_state": ch.chat_state,
                    "v_now": now,
                }
                for ch in changes
            ],
        )


async def return_unsent(
    conn: AsyncConnection, shot_id: int, telegram_ids: Collection[int], *, now: datetime
) -> int:
    """Put reserved deliveries that were never sent back to `pending` (the reserver's call)."""
    if not telegram_ids:
        return 0
    query = (
        update(shots_sent)
        .where(s.shot_id == shot_id, s.telegram_id.in_(list(telegram_ids)), s.status == SENDING)
        .values(status=PENDING, updated_at=now)
    )
    return int((await conn.execute(query)).rowcount or 0)


async def mark_sending_unknown(
    conn: AsyncConnection, shot_id: int, *, now: datetime, reason: Reason = Reason.WORKER_LOST
) -> int:
    """Deliveries left `sending` become `unknown`: a request may have gone; never resent."""
    query = (
        update(shots_sent)
        .where(s.shot_id == shot_id, s.status == SENDING)
        .values(status=UNKNOWN, reason=reason.value, error=LOST_ERROR, updated_at=now)
    )
    return int((await conn.execute(query)).rowcount or 0)
