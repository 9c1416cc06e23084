"""SQLite imports: the rows gathered in a scratch file, then merged in one short transaction.

SQLite has one writer for the whole database. An import writing its chunks in one transaction
held that lock for its whole length (35 s for 1.8 million contacts): every shot stopped, and a
worker waiting that long on the lock could freeze the process (a cursor of the waiting
connection, freed by the garbage collector on another thread, waits for the connection with the
interpreter's lock held). Here each chunk is upserted into a scratch database of the import's
own, which locks nothing, and `finish` applies them all in one transaction of three set-based
statements (6-9 s for 1.8 million contacts), and two more for contact tags if the rows gave
any: the import still commits whole or not at all.
All of it runs on the stage's own thread (a sqlite3 connection stays on the thread that made it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

from disparo.db.engine import SQLITE_BUSY_TIMEOUT_MS
from disparo.db.import_derived import (
    AFTER_INSERT,
    BEFORE_INSERT,
    BEFORE_UPDATE,
    rewrite_stale_or_log,
)
from disparo.db.types import UTCDateTime

T = TypeVar("T")
Tagged = Sequence[tuple[int, Sequence[str]]]  # (telegram_id, its tags) of a chunk's rows
Staged = tuple[list[tuple[Any, ...]], Tagged]  # a chunk's rows as staged, and their tags
_DIALECT = sqlite.dialect()
_TIME_PROCESSOR = UTCDateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)


def _time_text(value: datetime) -> Any:
    """A time as SQLAlchemy stores it in SQLite (naive UTC text)."""
    return _TIME_PROCESSOR(value) if _TIME_PROCESSOR else value


@dataclass(frozen=True, slots=True)
class Merged:
    """SQL of a column whose values are merged, not replaced (see `Merge`)."""

    staged: str  # a later chunk's value (`excluded.<column>`) into an earlier one (`<column>`)
    stored: str  # a staged value (`s.<column>`) into the stored one (`t.<column>`)
    new: str  # the value of a new row from its staged one (`s.<column>`)


def merge_objects(earlier: str | None, later: str | None) -> str | None:
    """Two flat JSON objects as one, the later's keys winning and its nulls kept (a null is a
    removal still to apply). Registered as merge_objects() in the scratch file."""
    if earlier is None or later is None:
        return later if earlier is None else earlier
    return json.dumps(json.loads(earlier) | json.loads(later))


@dataclass(frozen=True, slots=True)
class Merge:
    """How the staged rows of one table are applied to it.

    A row's missing value (None) never overwrites a stored one; a new row takes `defaults`
    (SQL over `:now`) where it gives nothing; every stored row a staged one matches gets `touch`
    (SQL over `t`, the stored row before the change, `s`, the staged one, and `:now`). With
    `only_giving`, a stored row is updated only if its staged one gives a value beyond the key.
    A column in `merged` has its values merged rather than replaced, by its `Merged` SQL.
    With `tagged`, rows may carry `tags` for contact_tags (see `stage_tags`). With `derived`
    (contacts), the merge writes what the table's row triggers keep itself (`import_derived`).
    """

    table: Table
    key: tuple[str, ...]  # besides bot_slug
    columns: tuple[str, ...]  # the others a row may give
    defaults: dict[str, str] = field(default_factory=dict)
    touch: dict[str, str] = field(default_factory=dict)
    only_giving: bool = False
    merged: dict[str, Merged] = field(default_factory=dict)
    tagged: bool = False
    derived: bool = False

    def _sql(self, c: str) -> Merged:
        """Column `c`'s SQL: merged, or else a given value replacing the earlier one."""
        if c in self.merged:
            return self.merged[c]
        new = f"coalesce(s.{c}, {self.defaults[c]})" if c in self.defaults else f"s.{c}"
        return Merged(f"coalesce(excluded.{c}, {c})", f"coalesce(s.{c}, t.{c})", new)

    def stage_sql(self) -> tuple[str, str]:
        """The scratch table, and the upsert of a chunk into it (a later value wins)."""
        names, key = ", ".join((*self.key, *self.columns)), ", ".join(self.key)
        marks = ", ".join("?" for _ in (*self.key, *self.columns))
        keep = ", ".join(f"{c} = {self._sql(c).staged}" for c in self.columns)
        on_conflict = f"DO UPDATE SET {keep}" if keep else "DO NOTHING"
        return (
            f"CREATE TABLE rows ({names}, PRIMARY KEY ({key})) WITHOUT ROWID",
            f"INSERT INTO rows ({names}) VALUES ({marks}) ON CONFLICT ({key}) {on_conflict}",  # noqa: S608 - names only
        )

    def merge_sql(self) -> tuple[str, str, str]:
        """How many staged keys are stored; the update of those; the insert of the others."""
        table = self.table.name
        match = " AND ".join(f"t.{k} = s.{k}" for k in self.key)
        stored = f"EXISTS (SELECT 1 FROM main.{table} AS t WHERE t.bot_slug = :slug AND {match})"  # noqa: S608 - names only
        sets = [f"{c} = {self._sql(c).stored}" for c in self.columns]
        sets += [f"{c} = {expression}" for c, expression in self.touch.items()]
        giving = " OR ".join(f"s.{c} IS NOT NULL" for c in self.columns)
        only = f" AND ({giving})" if self.only_giving else ""
        extra = [c for c in self.defaults if c not in self.columns]
        names = ", ".join(["bot_slug", *self.key, *self.columns, *extra])
        values = [":slug", *(f"s.{k}" for k in self.key)]
        values += [self._sql(c).new for c in self.columns]
        values += [self.defaults[c] for c in extra]
        # Only the names of our own tables and columns are formatted in; values are bound.
        return (
            f"SELECT count(*) FROM stage.rows AS s WHERE {stored}",  # noqa: S608 - names only
            f"UPDATE main.{table} AS t SET {', '.join(sets)} FROM stage.rows AS s "  # noqa: S608 - names only
            f"WHERE t.bot_slug = :slug AND {match}{only}",
            f"INSERT INTO main.{table} ({names}) SELECT {', '.join(values)} "  # noqa: S608 - names only
            f"FROM stage.rows AS s WHERE NOT {stored}",
        )


TAG_TABLES = (
    "CREATE TABLE tags (telegram_id INTEGER, tag TEXT, PRIMARY KEY (telegram_id, tag)) "
    "WITHOUT ROWID",
    "CREATE TABLE tagged (telegram_id INTEGER PRIMARY KEY)",  # whose set a replace rewrites
)


def stage_tags(scratch: sqlite3.Connection, tagged: Tagged, *, replace: bool) -> None:
    """Stage one chunk's tags (inside the scratch file's transaction). With `replace`, a contact
    given again in a later chunk drops what an earlier one staged: the later row's set wins."""
    if replace:
        ids = [(tid,) for tid, _tags in tagged]
        scratch.executemany("DELETE FROM tags WHERE telegram_id = ?", ids)
        scratch.executemany("INSERT OR IGNORE INTO tagged (telegram_id) VALUES (?)", ids)
    pairs = [(tid, tag) for tid, tags in tagged for tag in tags]
    scratch.executemany("INSERT OR IGNORE INTO tags (telegram_id, tag) VALUES (?, ?)", pairs)


def merge_tags_sql(*, replace: bool) -> tuple[str, ...]:
    """The statements that apply the staged tags (`stage` attached, `:slug` bound), run after
    the contacts are merged."""
    new = (
        "INSERT INTO main.contact_tags (bot_slug, telegram_id, tag) "
        "SELECT :slug, telegram_id, tag FROM stage.tags WHERE true ON CONFLICT DO NOTHING"
    )
    if not replace:
        return (new,)
    stale = (
        "DELETE FROM main.contact_tags WHERE bot_slug = :slug "
        "AND telegram_id IN (SELECT telegram_id FROM stage.tagged) "
        "AND NOT EXISTS (SELECT 1 FROM stage.tags AS s "
        "WHERE s.telegram_id = contact_tags.telegram_id AND s.tag = contact_tags.tag)"
    )
    return stale, new


_TIME_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"  # SQLAlchemy's DATETIME in SQLite


def utc_text(value: datetime) -> str:
    """An aware time as `UTCDateTime` stores it in SQLite (naive UTC text with microseconds),
    without SQLAlchemy's two generic steps (a tenth of a stage's work for contacts)."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware datetime")
        value = value.astimezone(UTC)
    return _TIME_TEXT % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _converters(table: Table, names: Sequence[str]) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, conversion) of each column whose values SQLAlchemy changes before SQLite
    stores them (times to text, JSON to text); the others are stored as given."""
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for at, name in enumerate(names):
        kind = table.c[name].type
        if isinstance(kind, UTCDateTime):
            found.append((at, utc_text))
        elif process := kind.dialect_impl(_DIALECT).bind_processor(_DIALECT):
            found.append((at, process))
    return found


def _as_sqlalchemy_error(exc: sqlite3.Error, statement: str) -> Exception:
    """The error as SQLAlchemy would have raised it, so the API answers it like any other."""
    return DBAPIError.instance(statement, None, exc, sqlite3.Error)


class SqliteStage:
    """One import's rows on their way into the SQLite database at `path` (see the module)."""

    def __init__(
        self, path: str, merge: Merge, bot_slug: str, now: datetime, *, replace_tags: bool = False
    ) -> None:
        self.path = path
        self.merge_plan = merge
        self.bot_slug = bot_slug
        self.now = now
        self.replace_tags = replace_tags
        self._tags_staged = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="disparo-stage")
        self._scratch: sqlite3.Connection | None = None
        self._scratch_path: str | None = None
        self._names = (*merge.key, *merge.columns)
        self._converters = _converters(merge.table, self._names)
        self._create, self._upsert = merge.stage_sql()

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._thread.submit(function, *args))

    def prepare(self, rows: Sequence[dict[str, Any]]) -> Staged:
        """One chunk's rows as the scratch table takes them, and their tags (any thread)."""
        names, converters = self._names, self._converters
        values = []
        for row in rows:
            value = list(map(row.get, names))
            for at, convert in converters:
                if (given := value[at]) is not None:
                    value[at] = convert(given)
            # A tuple of plain values leaves the garbage collector's sight at its first pass; a
            # list would stay tracked until the chunk is staged and push full collections.
            values.append(tuple(value))
        tagged: Tagged = []
        if self.merge_plan.tagged:
            key = self.merge_plan.key[0]
            tagged = [(row[key], tags) for row in rows if (tags := row.get("tags")) is not None]
        return values, tagged

    async def add_prepared(self, prepared: Staged) -> None:
        """Stage one chunk as `prepare` made it."""
        await self._run(self._add, prepared)

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Stage one chunk of rows (distinct keys)."""
        await self.add_prepared(self.prepare(rows))

    async def finish(self) -> int:
        """Apply every staged row in one write transaction; how many were new."""
        return await self._run(self._merge)

    async def close(self) -> None:
        """Drop the scratch file (whether or not the rows were merged)."""
        with contextlib.suppress(Exception):
            await self._run(self._close)
        self._thread.shutdown(wait=False)

    def _open(self) -> sqlite3.Connection:
        handle, self._scratch_path = tempfile.mkstemp(prefix="disparo-import-", suffix=".sqlite3")
        os.close(handle)
        scratch = sqlite3.connect(self._scratch_path, isolation_level=None)
        scratch.execute("PRAGMA journal_mode=OFF")  # a scratch file: nothing to recover
        scratch.execute("PRAGMA synchronous=OFF")
        scratch.execute(self._create)
        if self.merge_plan.tagged:
            for create in TAG_TABLES:
                scratch.execute(create)
        scratch.create_function("merge_objects", 2, merge_objects, deterministic=True)
        return scratch

    def _add(self, prepared: Staged) -> None:
        if self._scratch is None:
            self._scratch = self._open()
        values, tagged = prepared
        self._scratch.execute("BEGIN")
        self._scratch.executemany(self._upsert, values)
        if tagged:
            stage_tags(self._scratch, tagged, replace=self.replace_tags)
            self._tags_staged = True
        self._scratch.execute("COMMIT")

    def _merge(self) -> int:
        if self._scratch is None:
            return 0
        staged: int = self._scratch.execute("SELECT count(*) FROM rows").fetchone()[0]
        self._scratch.close()
        self._scratch = None
        params = {"slug": self.bot_slug, "now": _time_text(self.now)}
        count, update, insert = self.merge_plan.merge_sql()
        writes: tuple[str, ...] = (update, insert)
        if self.merge_plan.derived:
            writes = (*BEFORE_UPDATE, update, *BEFORE_INSERT, insert, *AFTER_INSERT)
        if self._tags_staged:
            writes += merge_tags_sql(replace=self.replace_tags)
        database = sqlite3.connect(
            self.path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
        statement = "BEGIN IMMEDIATE"
        try:
            database.execute("PRAGMA foreign_keys=ON")
            database.execute("PRAGMA synchronous=NORMAL")
            database.execute("ATTACH DATABASE ? AS stage", (self._scratch_path,))
            database.execute(statement)
            try:
                statement = count
                stored: int = database.execute(count, params).fetchone()[0]
                for statement in writes:
                    database.execute(statement, params)
                statement = "COMMIT"
                database.execute(statement)
            except BaseException:
                database.execute("ROLLBACK")
                raise
            if self.merge_plan.derived:  # in short transactions, other writers between them
                rewrite_stale_or_log(database)
        except sqlite3.Error as exc:
            raise _as_sqlalchemy_error(exc, statement) from exc
        finally:
            database.close()
        return staged - stored

    def _close(self) -> None:
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
        if self._scratch_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._scratch_path)
            self._scratch_path = None
