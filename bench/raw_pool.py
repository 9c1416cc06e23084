"""The engine's raw PostgreSQL pool (`disparo.db.raw.RawPool`) against `psycopg_pool`'s
AsyncConnectionPool, on the statement shape the engine sends through it (one autocommit
statement returning ~30 rows, prepared): 20,000 statements from 4 callers over 2 connections,
three rounds each, medians of wall time and of this process's CPU per statement.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/raw_pool.py [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db.raw import RawPool
from throughput import machine

SQL = "SELECT g, %(x)s::int FROM generate_series(1, 30) g"
STATEMENTS, CALLERS, CONNECTIONS, ROUNDS = 20_000, 4, 2, 3

Fetch = Callable[[str, Mapping[str, Any]], Awaitable[list[tuple[Any, ...]]]]


async def _round(fetch: Fetch) -> tuple[float, float]:
    async def caller(k: int) -> None:
        for _ in range(STATEMENTS // CALLERS):
            await fetch(SQL, {"x": k})

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller(k) for k in range(CALLERS)))
    return time.perf_counter() - wall, time.process_time() - cpu


async def _raw(url: str) -> tuple[float, float]:
    pool = RawPool(make_url(url), size=CONNECTIONS)
    try:
        await pool.fetchall(SQL, {"x": 0})
        return await _round(pool.fetchall)
    finally:
        await pool.close()


async def _psycopg_pool(url: str) -> tuple[float, float]:
    pool = AsyncConnectionPool(
        url, min_size=1, max_size=CONNECTIONS, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True)

    async def fetch(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        async with pool.connection() as conn:
            cursor = await conn.execute(sql, params, prepare=True)
            return await cursor.fetchall()

    try:
        await fetch(SQL, {"x": 0})
        return await _round(fetch)
    finally:
        await pool.close()


async def main(url: str) -> dict[str, Any]:
    runs: dict[str, list[tuple[float, float]]] = {"raw_pool": [], "psycopg_pool": []}
    for _ in range(ROUNDS):
        runs["raw_pool"].append(await _raw(url))
        runs["psycopg_pool"].append(await _psycopg_pool(url))
    figures = {}
    for name, rounds in runs.items():
        wall = statistics.median(r[0] for r in rounds)
        cpu = statistics.median(r[1] for r in rounds)
        figures[name] = {
            "statements_per_s": round(STATEMENTS / wall),
            "cpu_us_per_statement": round(cpu / STATEMENTS * 1e6, 1),
        }
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print("machine:", json.dumps(machine()))
    print(json.dumps(asyncio.run(main(args.url))))
