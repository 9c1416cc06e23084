"""The long API fuzz run: schemathesis over /openapi.json with hundreds of cases per operation.

The same harness as `tests/fuzz/test_schemathesis.py` (real `disparo serve` and simulator
processes, a seeded database, positive and negative cases, the admin token), on SQLite and on
PostgreSQL, with a larger budget. Prints the machine, the parameters, then one JSON object per
backend: operations, cases, responses_5xx, schema_violations, transport errors, the statuses
met, and every distinct failure. Exits 1 when there is a 5xx, a schema break or an error.

    .venv/bin/python bench/fuzz_api.py                          # 300 cases per operation
    .venv/bin/python bench/fuzz_api.py --backend sqlite --examples 100 --seed 7
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import schemathesis
from sqlalchemy.engine import URL, make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_harness import fuzz, running_stack

from disparo.db import migrate
from throughput import machine

PG_ADMIN = os.environ.get(
    "DISPARO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextlib.contextmanager
def _database(backend: str, folder: Path) -> Iterator[URL]:
    """A fresh migrated database of `backend`, dropped afterwards."""
    if backend == "sqlite":
        url = make_url(f"sqlite:///{folder / 'fuzz.sqlite3'}")
        migrate.upgrade(url)
        yield url
        return
    name = f"disparo_fuzz_bench_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_ADMIN).set(database=name)
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_backend(backend: str, examples: int, seed: int) -> dict[str, Any]:
    """One fuzz run on a fresh stack of `backend`; its figures."""
    with (
        tempfile.TemporaryDirectory() as folder,
        _database(backend, Path(folder)) as url,
        running_stack(url, Path(folder)) as stack,
    ):
        started = time.monotonic()
        report = fuzz(stack, max_examples=examples, run_seed=seed)
        took_s = time.monotonic() - started
        unhandled = stack.unexpected_errors()
    return {
        "backend": backend,
        **report.summary(),
        "unhandled_errors_logged": len(unhandled),
        "seconds": round(took_s, 1),
        "cases_per_s": round(report.cases / took_s, 1),
        "without_negative_cases": report.without_negative_cases,
        "failures": [str(failure) for failure in report.failures.values()],
    }


def main() -> int:
    """Run the fuzzing and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument(
        "--examples",
        type=int,
        default=300,
        help="positive cases per operation (half as many negative)",
    )
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: random)")
    args = parser.parse_args()
    seed = random.randrange(2**32) if args.seed is None else args.seed
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    print("machine:", json.dumps({**machine(), "schemathesis": schemathesis.__version__}))
    print(
        "parameters:", json.dumps({"backends": backends, "examples": args.examples, "seed": seed})
    )
    results = []
    for backend in backends:
        result = run_backend(backend, args.examples, seed)
        print(f"{backend}: {result['cases']} cases in {result['seconds']} s", file=sys.stderr)
        results.append(result)
    print(json.dumps({"runs": results}, indent=2))
    clean = all(
        r["responses_5xx"] == 0
        and r["schema_violations"] == 0
        and not r["failures"]
        and r["transport_errors"] == 0
        and r["unhandled_errors_logged"] == 0
        for r in results
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
