"""How personal variables fare across a whole audience, counted in the database: contacts
without a value for each variable, and roughly how many copies would pass Telegram's limit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import contact_tags, funnel_events, payment_transactions, telegram_contacts
from disparo.domain.statuses import PIX_EVENTS
from disparo.domain.variables import ATTRIBUTE_PREFIX, Variable

c = telegram_contacts.c
AMOUNT_LENGTH = 12  # "R$ 1.234,56": a typical amount; the count is an estimate


def _tags() -> tuple[ColumnElement[bool], ColumnElement[int]]:
    t = contact_tags.c
    mine = (t.bot_slug == c.bot_slug, t.telegram_id == c.telegram_id)
    length = (
        select(func.coalesce(func.sum(func.length(t.tag) + 2), 0)).where(*mine).scalar_subquery()
    )
    return not_(exists().where(*mine)), length


def _no_payment() -> ColumnElement[bool]:
    p = payment_transactions.c
    return not_(exists().where(p.bot_slug == c.bot_slug, p.telegram_id == c.telegram_id))


def _no_pix() -> ColumnElement[bool]:
    e = funnel_events.c
    event = exists().where(
        e.bot_slug == c.bot_slug, e.telegram_id == c.telegram_id, e.event.in_(PIX_EVENTS)
    )
    return and_(_no_payment(), not_(event))


def value_of(name: str) -> tuple[ColumnElement[bool] | None, ColumnElement[int]]:
    """(the contact has no value for `name` — None when it always has one, its length)."""
    if name in ("first_name", "last_name", "username"):
        column = c[name]
        return or_(column.is_(None), column == ""), func.coalesce(func.length(column), 0)
    if name.startswith(ATTRIBUTE_PREFIX):
        value = c.attributes[name[len(ATTRIBUTE_PREFIX) :]].as_string()
        return or_(value.is_(None), value == ""), func.coalesce(func.length(value), 0)
    if name == "tags":
        return _tags()
    if name == "last_pix_amount":
        return _no_payment(), literal(AMOUNT_LENGTH)
    if name == "last_pix_at":
        return _no_pix(), literal(10)
    return None, literal(AMOUNT_LENGTH)  # total_paid: R$ 0,00 at least


def _sum(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def personal_counts(
    conn: AsyncConnection,
    audience: ColumnElement[bool],
    variables: Sequence[Variable],
    copy_variables: Sequence[Variable],
    *,
    bare_length: int,
    limit: int,
) -> tuple[dict[str, int], int]:
    """Among the contacts `audience` selects: how many lack each of `variables` used without a
    fallback, and how many copies would pass `limit` characters (`bare_length` is the copy's
    visible length with every value missing; each of `copy_variables` adds its value's length
    when present)."""
    names = list(dict.fromkeys(v.name for v in variables if v.fallback is None))
    columns = []
    for name in names:
        missing, _ = value_of(name)
        columns.append(_sum(missing) if missing is not None else literal(0))
    length: ColumnElement[int] = literal(bare_length)
    for variable in copy_variables:
        missing, value_length = value_of(variable.name)
        fallback = len(variable.fallback or "")
        added = value_length - fallback
        if missing is not None:
            added = case((missing, 0), else_=added)
        length = length + cast(added, Integer)
    columns.append(_sum(length > limit))
    row = (await conn.execute(select(*columns).where(audience))).one()
    values = [int(value) for value in row]
    return dict(zip(names, values[:-1], strict=True)), values[-1]
