"""What every table definition shares: one metadata with a naming convention, and helpers."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, MetaData, Text, func

from disparo.db.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values: type) -> CheckConstraint:
    listed = ", ".join(f"'{v.value}'" for v in values)  # type: ignore[attr-defined]
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


def timestamps() -> tuple[Column[object], Column[object]]:
    return (
        Column("created_at", UTCDateTime(), nullable=False, server_default=func.now()),
        Column("updated_at", UTCDateTime(), nullable=False, server_default=func.now()),
    )


def bot_slug() -> Column[str]:
    """The bot a row belongs to: removed and renamed with it."""
    fk = ForeignKey("bots.slug", ondelete="CASCADE", onupdate="CASCADE")
    return Column("bot_slug", Text, fk, nullable=False)
