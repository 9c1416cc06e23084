"""Latency of the click redirect, GET /r/{code}, under an open-loop load of --rate clicks/s.

On each backend (a fresh SQLite file under /tmp, a fresh PostgreSQL database, both migrated and
removed afterwards):

  setup    a bot with --contacts contacts (first names), two sent shots delivered to all of
           them: one with a plain URL button (its URL comes from the shot cache: no database
           read), one templated with a plain URL and a URL with {first_name} (a contact read per
           click); codes signed with the real LinkSigner and the key of link_keys, for random
           recipients: half on the first shot, a quarter on each link of the second
  server   `disparo serve` as a subprocess (uvicorn, the real app and the idle worker) with
           DISPARO_PUBLIC_URL set; a few requests check the Location of each kind of link
  load     a separate process (uvloop, raw HTTP/1.1 on up to --connections keep-alive
           connections) schedules request i at t0 + i / rate and measures each latency from its
           scheduled time, so a stalled server's queue is counted (no coordinated omission);
           --warmup s at the same rate first, not measured
  check    shot_clicks counted after the server's flush (every 0.25 s) and again after it
           stopped, against the 302 answers the client got

Prints the machine, the parameters and one JSON object per backend (p50/p90/p99/p99.9/max per
kind of link and in all, achieved rate, errors, the server's CPU per request).

    .venv/bin/python bench/redirect.py [--backend both] [--rate 500] [--duration 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the venv
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bot_report import PYTHON, free_port, load_average, server
from disparo.db.engine import Database
from disparo.db.links import link_key
from disparo.db.tables import bots, shots_queue, shots_sent, telegram_contacts
from disparo.db.tables_campaign import shot_clicks
from disparo.domain.tracking import LinkRef, Links
from throughput import Databases, jsonable, machine, token_for

SLUG = "cliques"
ID0 = 5_000_000
PLAIN = "https://example.com/oferta?utm_source=telegram"
PERSONAL = "https://example.com/ola?nome={first_name}"
NAMES = ("Ana", "Bruno", "Carla", "Diego", "Élida", "João", "Maria", "Zé")
KINDS = ("plain", "templated_plain", "templated_personal")


def first_name(telegram_id: int) -> str:
    return NAMES[telegram_id % len(NAMES)]


async def seed(db: Database, contacts: int) -> tuple[int, int]:
    """The bot, its contacts, the two shots and their deliveries; the shots' ids."""
    now = datetime.now(UTC).replace(microsecond=0)
    started = now - timedelta(hours=1)
    ids = range(ID0, ID0 + contacts)
    async with db.write() as conn:
        token = token_for(random.randrange(10**9, 10**10))
        await conn.execute(insert(bots).values(slug=SLUG, token=token, webhook_secret="s" * 24))
        await conn.execute(
            insert(telegram_contacts),
            [
                {
                    "bot_slug": SLUG,
                    "telegram_id": tid,
                    "first_name": first_name(tid),
                    "last_interaction_at": now,
                    "updated_at": now,
                }
                for tid in ids
            ],
        )
        shot_ids = []
        for templated, buttons in (
            (False, [[{"text": "Ver oferta", "url": PLAIN}]]),
            (
                True,
                [
                    [{"text": "Ver oferta", "url": PLAIN}],
                    [{"text": "Meu cupom", "url": PERSONAL}],
                ],
            ),
        ):
            shot_id = (
                await conn.execute(
                    insert(shots_queue)
                    .values(
                        bot_slug=SLUG,
                        target="started",
                        copy="<b>Oferta</b> só hoje: 30 % off",
                        buttons=buttons,
                        templated=templated,
                        scheduled_at=started,
                        status="sent",
                        audience_total=contacts,
                        started_at=started,
                        finished_at=started + timedelta(seconds=contacts / 30),
                    )
                    .returning(shots_queue.c.id)
                )
            ).scalar_one()
            shot_ids.append(int(shot_id))
            await conn.execute(
                insert(shots_sent),
                [
                    {
                        "shot_id": shot_id,
                        "bot_slug": SLUG,
                        "telegram_id": tid,
                        "seq": n + 1,
                        "status": "sent",
                        "attempts": 1,
                        "message_id": n + 1,
                        "sent_at": started + timedelta(seconds=n / 30),
                        "updated_at": started + timedelta(seconds=n / 30),
                    }
                    for n, tid in enumerate(ids)
                ],
            )
    return shot_ids[0], shot_ids[1]


def make_codes(
    links: Links, shots: tuple[int, int], contacts: int, count: int
) -> list[tuple[str, str]]:
    """(kind, path) of `count` clicks of random recipients."""
    rng = random.Random(3)
    plain_shot, templated_shot = shots
    codes = []
    for _ in range(count):
        tid = ID0 + rng.randrange(contacts)
        draw = rng.random()
        if draw < 0.5:
            kind, ref = KINDS[0], LinkRef(plain_shot, tid, 0, 0)
        elif draw < 0.75:
            kind, ref = KINDS[1], LinkRef(templated_shot, tid, 0, 0)
        else:
            kind, ref = KINDS[2], LinkRef(templated_shot, tid, 0, 1)
        codes.append((kind, "/r/" + links.signer.code(ref)))
    return codes


def check_locations(base: str, links: Links, shots: tuple[int, int]) -> dict[str, Any]:
    """One click of each kind: the Location the browser is sent to (3 clicks recorded)."""
    tid = ID0 + 1
    refs = {
        KINDS[0]: LinkRef(shots[0], tid, 0, 0),
        KINDS[1]: LinkRef(shots[1], tid, 0, 0),
        KINDS[2]: LinkRef(shots[1], tid, 0, 1),
    }
    found = {}
    with httpx.Client(base_url=base) as client:
        for kind, ref in refs.items():
            response = client.get("/r/" + links.signer.code(ref))
            found[kind] = [response.status_code, response.headers.get("location")]
    expected = PERSONAL.replace("{first_name}", first_name(tid))
    assert found[KINDS[2]] == [302, expected], found
    assert found[KINDS[0]] == [302, PLAIN], found
    assert found[KINDS[1]] == [302, PLAIN], found
    return found


async def count_clicks(db: Database, shots: tuple[int, int]) -> int:
    async with db.read() as conn:
        query = select(func.count()).where(shot_clicks.c.shot_id.in_(shots))
        return int((await conn.execute(query)).scalar_one())


def run_client(port: int, codes_file: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        str(PYTHON),
        str(Path(__file__).resolve()),
        "client",
        "--port",
        str(port),
        "--codes",
        str(codes_file),
        "--rate",
        str(args.rate),
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--connections",
        str(args.connections),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout))


def measure(
    pid: int, port: int, codes_file: Path, args: argparse.Namespace, backend: str
) -> tuple[dict[str, Any], float, list[list[float]]]:
    """The client's run: its result, the server's CPU seconds and the load before and after."""
    process = psutil.Process(pid)
    cpu_before = process.cpu_times()
    load_before = load_average()
    spy = None
    if args.profile:  # py-spy samples the server while the client runs
        out = f"{args.profile}-{backend}.txt"
        spy = subprocess.Popen(
            [str(PYTHON.parent / "py-spy"), "record", "--pid", str(pid), "--format", "raw",
             "--output", out, "--rate", "250", "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    result = run_client(port, codes_file, args)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    cpu_after = process.cpu_times()
    cpu_s = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    return result, cpu_s, [load_before, load_average()]


async def run(args: argparse.Namespace, backend: str, databases: Databases) -> dict[str, Any]:
    url = databases.fresh(backend, "redirect")
    db = Database(url)
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    try:
        shots = await seed(db, args.contacts)
        links = Links.of(public, await link_key(db))
        total = int(args.rate * (args.duration + args.warmup))
        codes = make_codes(links, shots, args.contacts, total)
        codes_file = databases.tmp / f"codes-{backend}.json"
        codes_file.write_text(json.dumps(codes))
        env = {
            "DISPARO_PUBLIC_URL": public,
            # Not Telegram's own server: any public URL is accepted; the idle worker calls none.
            "DISPARO_TELEGRAM_API_URL": "http://127.0.0.1:9",
        }
        pid: list[int] = []
        with server(url, command="serve", env=env, port=port, pid=pid) as base:
            locations = check_locations(base, links, shots)
            result, cpu_s, loads = measure(pid[0], port, codes_file, args, backend)
            await asyncio.sleep(1.0)  # the server writes held clicks every 0.25 s
            flushed = await count_clicks(db, shots)
        after_stop = await count_clicks(db, shots)
    finally:
        await db.dispose()
    answered = result.pop("redirects_302")
    expected = answered + len(locations)
    return {
        "backend": backend,
        "locations": locations,
        **result,
        "server_cpu_ms_per_request": cpu_s * 1000 / max(1, result["requests_total"]),
        "load_average": loads,
        "clicks": {
            "expected": expected,
            "after_flush": flushed,
            "after_stop": after_stop,
            "all_recorded": after_stop == expected,
        },
    }


# The load client (a separate process) ---------------------------------------------------------


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "count": len(ordered),
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "p99_9_ms": at(0.999),
        "max_ms": ordered[-1] * 1000,
    }


async def _client(args: argparse.Namespace, codes: list[tuple[str, str]]) -> dict[str, Any]:
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(args.connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", args.port))
    warm = int(args.rate * args.warmup)
    latency: dict[str, list[float]] = {kind: [] for kind in KINDS}
    send_lag: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    finished: list[float] = []

    async def one(index: int, scheduled: float) -> None:
        kind, path = codes[index]
        reader, writer = await pool.get()
        if index >= warm:
            send_lag.append(time.perf_counter() - scheduled)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            status = head[9:12].decode()
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            writer.close()
            errors.append(type(exc).__name__)
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", args.port))
            return
        pool.put_nowait((reader, writer))
        statuses[status] = statuses.get(status, 0) + 1
        if index >= warm:
            done = time.perf_counter()
            finished.append(done)
            if status == "302":
                latency[kind].append(done - scheduled)
            else:
                errors.append(status)

    # perf_counter, not loop.time(): uvloop's clock moves in whole milliseconds
    t0 = time.perf_counter() + 0.2
    tasks = []
    for index in range(len(codes)):
        scheduled = t0 + index / args.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, scheduled)))
    await asyncio.gather(*tasks)
    measured_from = t0 + warm / args.rate
    span = (max(finished) - measured_from) if finished else 0.0
    every = [v for values in latency.values() for v in values]
    return {
        "requests_total": len(codes),
        "requests_measured": len(codes) - warm,
        "redirects_302": statuses.get("302", 0),
        "statuses": statuses,
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "target_rate_per_s": args.rate,
        "achieved_rate_per_s": (len(codes) - warm) / span if span else None,
        "latency": _percentiles(every),
        "by_kind": {kind: _percentiles(values) for kind, values in latency.items()},
        "client_send_lag": _percentiles(send_lag),
    }


def client_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="redirect.py client")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--codes", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--connections", type=int, required=True)
    args = parser.parse_args(argv)
    import uvloop

    codes = [(kind, path) for kind, path in json.loads(Path(args.codes).read_text())]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        print(json.dumps(runner.run(_client(args, codes))))


# Run ------------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    databases = Databases()
    try:
        for backend in args.backends:
            result = await run(args, backend, databases)
            print(json.dumps(jsonable(result)), flush=True)
    finally:
        databases.close()
        shutil.rmtree(databases.tmp, ignore_errors=True)


def main() -> None:
    if sys.argv[1:2] == ["client"]:
        client_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--rate", type=float, default=500.0, help="clicks per second")
    parser.add_argument("--duration", type=float, default=40.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds at --rate first")
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--profile", help="py-spy the server into PROFILE-<backend>.txt")
    args = parser.parse_args()
    args.backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    print("machine:", json.dumps(machine() | {"sqlite": sqlite3.sqlite_version}))
    print(
        "parameters:",
        json.dumps(
            {
                k: getattr(args, k)
                for k in ("backends", "rate", "duration", "warmup", "contacts", "connections")
            }
            | {"load_average": load_average(), "pid": os.getpid()}
        ),
        flush=True,
    )
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
