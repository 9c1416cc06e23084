"""A shot's variants, holdout and conversion events: stored with the shot, read by the
snapshot (who gets what) and by the sender (what each variant sends)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    case,
    delete,
    exists,
    insert,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from disparo.db.tables import shots_queue
from disparo.db.tables_campaign import shot_goals, shot_variants
from disparo.domain.experiment import BUCKETS, PRIME, Goal, Split, Variant

v = shot_variants.c
g = shot_goals.c
q = shots_queue.c


def bucket_of(shot_id: int, telegram_id: ColumnElement[Any]) -> ColumnElement[int]:
    """`domain.experiment.bucket` as a SQL expression (the same arithmetic, both backends)."""
    p = literal(PRIME, Integer)
    sid = literal(shot_id, BigInteger)
    x = ((telegram_id % p) + p) % p
    y = (x * 7919 + sid % p) % p
    z = (y * (sid % 9973 + 2)) % p
    return type_coerce(((z * 6007 + x) % p) % BUCKETS, Integer)


def variant_of(split: Split, shot_id: int, telegram_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """The group (variant name, `holdout`, or NULL) of each recipient, as `split` cuts it."""
    bucket = bucket_of(shot_id, telegram_id)
    whens = [(bucket < upper, literal(name)) for upper, name in split.ranges if name is not None]
    return case(*whens, else_=None)


async def variants_of(
    conn: AsyncConnection, shot_ids: Collection[int]
) -> dict[int, tuple[Variant, ...]]:
    """The variants of each shot, in order (a shot without any is left out)."""
    if not shot_ids:
        return {}
    query = (
        select(shot_variants).where(v.shot_id.in_(list(shot_ids))).order_by(v.shot_id, v.position)
    )
    found: dict[int, list[Variant]] = {}
    for row in (await conn.execute(query)).mappings():
        found.setdefault(row["shot_id"], []).append(
            Variant(
                row["name"],
                row["copy"],
                row["media_type"],
                row["media_url"],
                row["buttons"],
                row["weight"],
            )
        )
    return {shot_id: tuple(each) for shot_id, each in found.items()}


async def goals_of(conn: AsyncConnection, shot_ids: Collection[int]) -> dict[int, tuple[Goal, ...]]:
    """The conversion events of each shot, the primary first."""
    if not shot_ids:
        return {}
    query = select(g.shot_id, g.event, g.window_hours).where(g.shot_id.in_(list(shot_ids)))
    found: dict[int, list[Goal]] = {}
    for row in await conn.execute(query.order_by(g.shot_id, g.position)):
        found.setdefault(row.shot_id, []).append(Goal(row.event, row.window_hours))
    return {shot_id: tuple(each) for shot_id, each in found.items()}


def split_columns() -> tuple[ColumnElement[Any], ...]:
    """What `split_from` reads of a shot's row, to select with the rest of it."""
    has_variants = exists().where(v.shot_id == q.id)
    return q.holdout_percent, q.winner, has_variants.label("has_variants")


async def shot_split(conn: AsyncConnection, shot_id: int) -> Split | None:
    """How the shot's audience is cut (None: no variants and no holdout)."""
    row = (await conn.execute(select(*split_columns()).where(q.id == shot_id))).first()
    return None if row is None else await split_from(conn, shot_id, row)


async def split_from(conn: AsyncConnection, shot_id: int, row: Any) -> Split | None:
    """`shot_split` of a shot row selected with `split_columns()` (its variants read only if
    it has any)."""
    variants = (await variants_of(conn, [shot_id])).get(shot_id, ()) if row.has_variants else ()
    winner = row.winner if isinstance(row.winner, dict) else None
    return Split.of(
        arms=tuple(each.arm for each in variants),
        holdout_percent=int(row.holdout_percent),
        test_percent=int(winner["test_percent"]) if winner else None,
    )


async def write_experiment(
    conn: AsyncConnection,
    shot_id: int,
    bot_slug: str,
    *,
    variants: Sequence[Variant] | None = None,
    goals: Sequence[Goal] | None = None,
) -> None:
    """Store (replace) the shot's variants and/or conversion events; None leaves them."""
    if variants is not None:
        await conn.execute(delete(shot_variants).where(v.shot_id == shot_id))
        if variants:
            await conn.execute(
                insert(shot_variants),
                [
                    {
                        "shot_id": shot_id,
                        "position": i,
                        "name": each.name,
                        "copy": each.copy,
                        "media_type": each.media_type,
                        "media_url": each.media_url,
                        "buttons": each.buttons,
                        "weight": each.weight,
                    }
                    for i, each in enumerate(variants)
                ],
            )
    if goals is not None:
        await conn.execute(delete(shot_goals).where(g.shot_id == shot_id))
        if goals:
            await conn.execute(
                insert(shot_goals),
                [
                    {
                        "shot_id": shot_id,
                        "event": each.event,
                        "bot_slug": bot_slug,
                        "position": i,
                        "window_hours": each.window_hours,
                    }
                    for i, each in enumerate(goals)
                ],
            )
