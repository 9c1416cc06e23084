"""The contacts table of the admin page at scale: the first page and the next one, for each sort,
search and filter below, on one bot with 1,000,000 contacts, 1,000,000 funnel events, 300,000
payments and 100,000 tagged contacts (the data of bench/audience_filters.py, plus first names).

On each backend (a fresh migrated database, bulk-loaded, ANALYZE): `contact_page` (50 rows,
with their tags and paid totals) for the first page, then the page after it from its cursor;
the first call and the median of the next --runs, in milliseconds. Then the two indexes of
migration 0012 are dropped and the time sorts timed again, to show what they are for.

Prints the machine, the parameters and one JSON object per backend.

    .venv/bin/python bench/contacts_page.py [--backend both] [--contacts 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audience_filters import FILTERS, SLUG, _timed, load_postgresql, load_sqlite
from disparo.db.contact_browse import ContactQuery, ContactSort, contact_page
from disparo.db.contact_story import contact_deliveries
from disparo.db.engine import Database
from disparo.db.tables import bots
from disparo.db.tables_contacts import contacts_by_interaction, contacts_by_start
from disparo.domain.filters import parse_filter
from harness import print_setup
from throughput import Databases, jsonable, token_for

PAGE = 50
NAMES = ("Ana", "Bruno", "Carla", "Davi", "Eva", "Fábio", "Gabi", "Hugo")
_NAMED = "CASE telegram_id % 8 " + " ".join(
    f"WHEN {n} THEN '{name}'" for n, name in enumerate(NAMES)
)

CASES: dict[str, dict[str, Any]] = {
    "last_interaction": {},
    "started": {"sort": ContactSort.STARTED},
    "total_paid": {"sort": ContactSort.TOTAL_PAID},
    "telegram_id": {"sort": ContactSort.TELEGRAM_ID},
    "blocked": {"state": "blocked"},
    "tag_vip": {"narrowing": parse_filter({"tag": "vip"})},
    "pix_unpaid_curso_a": {"narrowing": parse_filter(FILTERS["tag_recent_pix_unpaid"])},
    "search_ana": {"search": "ana"},
    "search_id": {"search": "10000123"},
    "search_nobody": {"search": "xyz"},  # no name matches: a probe of the trigram index
    "search_nobody_short": {"search": "xq"},  # too short for it: the page reads every contact
}
TIME_SORTS = ("last_interaction", "started")


async def time_case(db: Database, now: datetime, runs: int, **kw: Any) -> dict[str, Any]:
    """The first page and the next, as `_timed` reports them."""
    query = ContactQuery(bot_slug=SLUG, **kw)

    async def first(conn: Any) -> Any:
        return await contact_page(conn, query, now=now, after=None, limit=PAGE)

    timed_first = await _timed(db, runs, first)
    rows, after = timed_first.pop("result")
    if after is None:  # one page holds them all
        return {"rows": [len(rows)], "first_page": timed_first, "next_page": None}

    async def following(conn: Any) -> Any:
        return await contact_page(conn, query, now=now, after=after, limit=PAGE)

    timed_next = await _timed(db, runs, following)
    next_rows, _ = timed_next.pop("result")
    return {"rows": [len(rows), len(next_rows)], "first_page": timed_first, "next_page": timed_next}


async def run(args: argparse.Namespace, backend: str, databases: Databases) -> dict[str, Any]:
    url = databases.fresh(backend, "contacts")
    db = Database(url)
    now = datetime.now(UTC)
    token = token_for(random.randrange(10**9, 10**10))
    async with db.write() as conn:
        await conn.execute(insert(bots).values(slug=SLUG, token=token, webhook_secret="s" * 24))
    load_s = (load_postgresql if backend == "postgresql" else load_sqlite)(url, args, now)
    async with db.write() as conn:
        await conn.execute(text(f"UPDATE telegram_contacts SET first_name = {_NAMED} END"))
        await conn.execute(text("ANALYZE telegram_contacts"))
    try:
        chosen = args.cases or list(CASES)
        cases = {name: await time_case(db, now, args.runs, **CASES[name]) for name in chosen}

        async def story(conn: Any) -> Any:
            return (await contact_deliveries(conn, SLUG, 10_000_123, limit=200)).total

        shots = await _timed(db, args.runs, story)
        async with db.write() as conn:
            for index in (contacts_by_interaction, contacts_by_start):
                await conn.execute(text(f"DROP INDEX {index.name}"))
        without = {
            name: await time_case(db, now, args.runs, **CASES[name])
            for name in TIME_SORTS
            if name in chosen
        }
    finally:
        await db.dispose()
    return {
        "backend": backend,
        "load_s": load_s,
        "page": PAGE,
        "cases": cases,
        "story_shots": shots,
        "without_0012_indexes": without,
    }


async def main_async(args: argparse.Namespace) -> None:
    databases = Databases()
    try:
        for backend in args.backends:
            print(json.dumps(jsonable(await run(args, backend, databases))), flush=True)
    finally:
        databases.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=300_000)
    parser.add_argument("--tagged", type=int, default=100_000, help="contacts with tags")
    parser.add_argument("--runs", type=int, default=5, help="timed calls after the first")
    parser.add_argument("--cases", nargs="*", choices=list(CASES), help="only these (all)")
    args = parser.parse_args()
    args.backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    print_setup(dict(vars(args)))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
