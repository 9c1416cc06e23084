"""INSERT ... ON CONFLICT for the backend at hand (SQLite and PostgreSQL spell it alike), and
PostgreSQL's upsert of many rows bound as one JSON document that also counts the stored ones."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    Table,
    Text,
    bindparam,
    case,
    cast,
    column,
    func,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement

# A field of a row's JSON object beside its columns: the value a new row stores in `attributes`
# (the changes without their nulls), where a stored row merges the changes themselves.
NEW_ATTRIBUTES = "attributes_new"


def upsert_into(conn: AsyncConnection, table: Table) -> Any:
    """An INSERT on `table` offering `.on_conflict_do_update` / `.on_conflict_do_nothing`."""
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


class CompiledOnce:
    """A statement compiled at its first execution, then sent as that SQL.

    SQLAlchemy does not cache a PostgreSQL INSERT (its `Insert` has no cache key here): each
    chunk's statement was compiled again on the event loop (a few ms a chunk, more with a CTE).
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: tuple[str, dict[str, Any]] | None = None

    async def execute(self, conn: AsyncConnection, params: dict[str, Any]) -> CursorResult[Any]:
        """Run it with `params` (values as the driver takes them) beside its own constants."""
        if self._compiled is None:
            compiled = self.statement.compile(dialect=conn.dialect)
            self._compiled = str(compiled), dict(compiled.params)  # the values given to it
        sql, constants = self._compiled
        return await conn.exec_driver_sql(sql, constants | params)


def counted_upsert_pg(
    table: Table,
    key: Sequence[str],
    names: Sequence[str],
    set_: Callable[[Any], dict[str, Any]],
    constants: Sequence[str] = (),
) -> Select[Any]:
    """PostgreSQL: one statement that upserts the rows of the JSON array bound as `rows` (the
    columns `names`, plus the `constants` bound once as `const_<name>`: the same for every row,
    and a tenth of the document's reading when they were fields of each row) and answers how
    many of their keys (`key`, in `names` or `constants`) were stored before it.

    `set_(excluded)` is what a key conflict updates (nothing: the stored row is kept). Each key
    is looked up by its own unique-index probe (a LIMIT keeps the lateral subquery a probe, never
    merged into a join): inside an import's transaction the planner's statistics still describe
    the table before it, and an IN over 2,000 keys was planned as a scan of every row of the
    bot, each tested against the whole list (3 s per chunk at 150,000 contacts). The probe sees
    the table as the statement found it, before its own INSERT, in the same round trip.
    A row's NEW_ATTRIBUTES field, if `attributes` is among `names`, is what a new row stores.
    """
    fields = [column(name, table.c[name].type) for name in names]
    if "attributes" in names:
        fields.append(column(NEW_ATTRIBUTES, table.c.attributes.type))
    records = (
        func.json_to_recordset(cast(bindparam("rows", type_=Text()), JSON))
        .table_valued(*fields)
        .render_derived(name="r", with_types=True)
    )
    fixed = {name: bindparam(f"const_{name}", type_=table.c[name].type) for name in constants}
    hit = (
        select(table.c[key[0]].label("hit"))
        .where(*(table.c[name] == fixed.get(name, records.c.get(name)) for name in key))
        .limit(1)
        .lateral("stored")
    )
    probed = (
        select(*records.c, hit.c.hit.is_not(None).label("was_stored"))
        .select_from(records.outerjoin(hit, true()))
        .cte("probed")
    )
    values: list[ColumnElement[Any]] = [probed.c[name] for name in names]
    if "attributes" in names:
        at = list(names).index("attributes")
        values[at] = case(
            (probed.c.was_stored, probed.c.attributes), else_=probed.c[NEW_ATTRIBUTES]
        )
    values += fixed.values()
    stmt = postgresql.insert(table).from_select([*names, *fixed], select(*values))
    index = [table.c[name] for name in key]
    changes = set_(stmt.excluded)
    if changes:
        stmt = stmt.on_conflict_do_update(index_elements=index, set_=changes)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=index)
    written = stmt.cte("written")
    return select(func.count()).select_from(probed).where(probed.c.was_stored).add_cte(written)


def groups(
    rows: Sequence[dict[str, Any]], defaults: dict[str, Any]
) -> dict[frozenset[str], list[dict[str, Any]]]:
    """`rows` grouped by the columns they give (not None), `defaults` filling the rest."""
    found: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        values = {k: v for k, v in row.items() if v is not None}
        found[frozenset(values)].append({**defaults, **values})
    return found


ExtraSet = Callable[[frozenset[str], Any], dict[str, Any]]


def no_extra(_given: frozenset[str], _new: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class Batch:
    """PostgreSQL: one chunk ready to send (built off the event loop): each group's statement
    with its JSON document, then the contacts' tags as one document (or None)."""

    rows: int
    groups: list[tuple[CompiledOnce, dict[str, Any]]]  # statement, parameters
    tags: str | None = None


_STATEMENTS: dict[tuple[str, tuple[str, ...], frozenset[str]], CompiledOnce] = {}


def pg_groups(
    table: Table,
    key: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    defaults: dict[str, Any],
    constants: dict[str, Any],
    extra_set: ExtraSet = no_extra,
) -> list[tuple[CompiledOnce, dict[str, Any]]]:
    """PostgreSQL: each group of rows (see `groups`) as one JSON document for one statement
    (`counted_upsert_pg`, made once per table and columns), with its parameters: `constants`
    are columns the rows leave out and all take the same value of. psycopg sends an executemany
    row by row, and the has_pix statement triggers then ran once per row (3,000 rows/s); a
    multi-row VALUES costs psycopg ~50 µs a row to parse."""
    found = []
    fixed = tuple(constants)
    params = {f"const_{name}": value for name, value in constants.items()}
    for given_, group in groups(rows, defaults).items():
        names = tuple(name for name in group[0] if name != NEW_ATTRIBUTES)
        given = given_ - {NEW_ATTRIBUTES}
        given = given | set(fixed)
        stmt = _STATEMENTS.get((table.name, names, given))
        if stmt is None:

            def set_(new: Any, given: frozenset[str] = given) -> dict[str, Any]:
                changes = {name: new[name] for name in given if name not in key}
                changes.update(extra_set(given, new))
                return changes

            stmt = CompiledOnce(counted_upsert_pg(table, key, names, set_, fixed))
            _STATEMENTS[(table.name, names, given)] = stmt
        found.append((stmt, {"rows": orjson.dumps(group).decode(), **params}))
    return found
