"""Bulk import of contacts, funnel events and payment transactions (JSON lines and CSV)."""

from __future__ import annotations

import asyncio
import gc
import json
from datetime import UTC, datetime
from typing import Any

from api_support import TOKEN, Answer, BuildApp, Client, Serve
from sqlalchemy import select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from disparo.api.routes.imports import CHUNK_LINES
from disparo.db.engine import Database
from disparo.db.tables import funnel_events, payment_transactions, telegram_contacts

BASE = "/admin/api/bots/loja"
NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


def ndjson(*rows: Any) -> str:
    """JSON lines of `rows` (strings are sent as they are)."""
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"


async def contacts(db: Database) -> dict[int, Any]:
    """Bot loja's contacts by telegram_id."""
    async with db.read() as conn:
        rows = (await conn.execute(select(telegram_contacts))).mappings().all()
    return {row["telegram_id"]: row for row in rows}


async def test_import_contacts_ndjson_good_and_bad_rows(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Good rows are upserted; each bad row is reported with its line and reason."""
    body = ndjson(
        {"telegram_id": 1, "first_name": "Ana", "started_at": "2026-11-01T10:00:00-03:00"},
        {"telegram_id": 2, "chat_state": "blocked", "username": "bia"},
        "",
        {"telegram_id": "x"},
        "{broken",
        {"telegram_id": 3, "chat_state": "gone"},
        {"telegram_id": 4, "started_at": "2026-11-01T10:00:00"},
        {"telegram_id": 5, "colour": "blue"},
        [1, 2],
        {"first_name": "Sem id"},
    )
    answer = await api.request("POST", f"{BASE}/contacts:import", data=body, headers=NDJSON)
    assert answer.status == 200, answer.body
    result = answer.body
    assert (result["inserted"], result["updated"], result["rejected"]) == (2, 0, 7)
    lines = {r["line"]: (r["field"], r["reason"]) for r in result["rejections"]}
    assert lines[4] == (
        "telegram_id",
        "telegram_id must be a positive integer (the Telegram user id)",
    )
    assert lines[5] == (None, "the line is not valid JSON")
    assert lines[6][0] == "chat_state"
    assert "active, blocked, deactivated" in lines[6][1]
    assert lines[7][0] == "started_at"
    assert "no UTC offset" in lines[7][1]
    assert lines[8][0] == "colour"
    assert lines[9] == (None, "each line must be a JSON object")
    assert lines[10] == ("telegram_id", "telegram_id is required")
    stored = await contacts(db)
    assert sorted(stored) == [1, 2]
    assert stored[1]["first_name"] == "Ana"
    assert stored[1]["started_at"] == datetime(2026, 11, 1, 13, tzinfo=UTC)
    assert (stored[1]["chat_state"], stored[2]["chat_state"]) == ("active", "blocked")
    assert stored[2]["blocked_at"] is None  # imported already blocked: when is unknown


async def test_import_contacts_csv_upserts(api: Client, bot: dict[str, Any], db: Database) -> None:
    """CSV rows update contacts; empty cells keep stored values; a block sets blocked_at."""
    first = "telegram_id,first_name,username\n1,Ana,ana\n2,Bia,bia\n"
    answer = await api.request("POST", f"{BASE}/contacts:import", data=first, headers=CSV)
    assert (answer.body["inserted"], answer.body["updated"]) == (2, 0)
    second = (
        "telegram_id,first_name,chat_state,last_interaction_at\n"
        "1,,blocked,2026-11-02T00:00:00Z\n"
        "2,,deactivated,2026-11-02T00:00:00Z\n"
        "3,Caio,,\n"
        "1,Ana Maria,,\n"
        "oops,,,\n"
        "4,too,many,values,here\n"
    )
    answer = await api.request("POST", f"{BASE}/contacts:import", data=second, headers=CSV)
    result = answer.body
    assert (result["inserted"], result["updated"], result["rejected"]) == (1, 3, 2)
    assert [r["line"] for r in result["rejections"]] == [6, 7]
    stored = await contacts(db)
    assert stored[1]["first_name"] == "Ana Maria"  # the later row wins
    assert stored[1]["username"] == "ana"  # not in the file: kept
    assert stored[1]["chat_state"] == "blocked"
    assert stored[1]["blocked_at"] is not None
    assert stored[1]["last_interaction_at"] == datetime(2026, 11, 2, tzinfo=UTC)
    assert (stored[3]["first_name"], stored[3]["chat_state"]) == ("Caio", "active")
    metrics = (await api.get(f"{BASE}/metrics")).body
    assert (metrics["blocked"], metrics["change_24h"]["blocked"]) == (1, 1)
    assert (metrics["deactivated"], metrics["change_24h"]["deactivated"]) == (1, 1)
    assert stored[2]["blocked_at"] is not None


async def test_import_csv_header_errors(api: Client, bot: dict[str, Any]) -> None:
    """An unknown or missing column in the CSV header refuses the whole file."""
    unknown = await api.request(
        "POST", f"{BASE}/contacts:import", data="telegram_id,idade\n1,30\n", headers=CSV
    )
    assert (unknown.status, unknown.body["error"]["field"]) == (422, "idade")
    missing = await api.request(
        "POST", f"{BASE}/contacts:import", data="first_name\nAna\n", headers=CSV
    )
    assert (missing.status, missing.body["error"]["field"]) == (422, "telegram_id")
    empty = await api.request("POST", f"{BASE}/contacts:import", data="", headers=CSV)
    assert (empty.status, empty.body["inserted"]) == (200, 0)


async def test_import_events(api: Client, bot: dict[str, Any], db: Database) -> None:
    """Events are keyed by (telegram_id, event, occurred_at); a new payload updates one."""
    body = ndjson(
        {"telegram_id": 1, "event": "pix_created", "occurred_at": "2026-11-01T10:00:00Z"},
        {"telegram_id": 2, "event": "checkout_pix_created", "occurred_at": 1764460800,
         "payload": {"valor": 4990}},
        {"telegram_id": 3, "event": "pix_created"},
        {"telegram_id": 4, "event": "x", "occurred_at": "2026-11-01T10:00:00Z", "payload": [1]},
    )  # fmt: skip
    first = await api.request("POST", f"{BASE}/events:import", data=body, headers=NDJSON)
    assert (first.body["inserted"], first.body["updated"], first.body["rejected"]) == (2, 0, 2)
    assert [(r["line"], r["field"]) for r in first.body["rejections"]] == [
        (3, "occurred_at"),
        (4, "payload"),
    ]
    again = (
        "telegram_id,event,occurred_at,payload\n"
        '1,pix_created,2026-11-01T10:00:00+00:00,"{""valor"": 100}"\n'
    )
    second = await api.request("POST", f"{BASE}/events:import", data=again, headers=CSV)
    assert (second.body["inserted"], second.body["updated"]) == (0, 1)
    async with db.read() as conn:
        rows = (await conn.execute(select(funnel_events))).mappings().all()
    payloads = {r["telegram_id"]: r["payload"] for r in rows}
    assert payloads == {1: {"valor": 100}, 2: {"valor": 4990}}
    estimate = await api.get("/admin/api/audience/estimate?bot_slug=loja&target=pix_created")
    assert estimate.body["count"] == 0  # events alone: the contacts are not known yet


async def test_import_transactions(api: Client, bot: dict[str, Any], db: Database) -> None:
    """Transactions upsert by external_id; status and paid_at change, currency defaults to BRL."""
    first = ndjson(
        {"telegram_id": 1, "external_id": "pix-1", "status": "created", "amount_cents": 4990},
        {"telegram_id": 2, "external_id": "pix-2", "status": "pending", "amount_cents": 10},
        {"telegram_id": 3, "external_id": "pix-3", "status": "paid", "amount_cents": -1},
        {"telegram_id": 4, "external_id": "pix-4", "status": "paid", "amount_cents": 1,
         "currency": "reais"},
    )  # fmt: skip
    answer = await api.request("POST", f"{BASE}/transactions:import", data=first, headers=NDJSON)
    assert (answer.body["inserted"], answer.body["rejected"]) == (1, 3)
    assert [r["field"] for r in answer.body["rejections"]] == ["status", "amount_cents", "currency"]
    paid = (
        "telegram_id,external_id,status,amount_cents,paid_at\n"
        "1,pix-1,paid,4990,2026-11-01T12:00:00Z\n"
    )
    answer = await api.request("POST", f"{BASE}/transactions:import", data=paid, headers=CSV)
    assert (answer.body["inserted"], answer.body["updated"]) == (0, 1)
    async with db.read() as conn:
        row = (await conn.execute(select(payment_transactions))).mappings().one()
    assert (row["status"], row["currency"], row["amount_cents"]) == ("paid", "BRL", 4990)
    assert row["paid_at"] == datetime(2026, 11, 1, 12, tzinfo=UTC)


async def test_import_refusals(api: Client, bot: dict[str, Any]) -> None:
    """An unknown bot is a 404, another content type a 415, bytes that are not UTF-8 a 400."""
    row = ndjson({"telegram_id": 1})
    missing = await api.request(
        "POST", "/admin/api/bots/nobody/contacts:import", data=row, headers=NDJSON
    )
    assert missing.status == 404
    wrong_type = await api.request(
        "POST", f"{BASE}/contacts:import", data=row, headers={"Content-Type": "text/plain"}
    )
    assert (wrong_type.status, wrong_type.body["error"]["code"]) == (415, "bad_request")
    assert "application/x-ndjson" in wrong_type.body["error"]["message"]
    latin1 = "telegram_id,first_name\n1,João\n".encode("latin-1")
    not_utf8 = await api.request("POST", f"{BASE}/contacts:import", data=latin1, headers=CSV)
    assert (not_utf8.status, not_utf8.body["error"]["code"]) == (400, "bad_request")


async def test_import_takes_bodies_larger_than_json_routes(
    api: Client, bot: dict[str, Any]
) -> None:
    """An import of a few MiB is accepted where a JSON route refuses 1 MiB with a 413."""
    rows = "".join(f'{{"telegram_id": {n}, "first_name": "{"x" * 40}"}}\n' for n in range(1, 40001))
    assert len(rows) > 2 * 1024 * 1024
    answer = await api.request("POST", f"{BASE}/contacts:import", data=rows, headers=NDJSON)
    assert (answer.status, answer.body["inserted"]) == (200, 40000)
    big = {"bot_slug": "loja", "target": "started", "copy": "x" * (1024 * 1024)}
    too_large = await api.post("/admin/api/shots", big)
    assert too_large.status == 413
    assert too_large.body["error"]["code"] == "payload_too_large"


def nested(depth: int) -> dict[str, Any]:
    """A JSON object `depth` levels deep (the object itself counts 1)."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"inner": value}
    return value


def nested_json(depth: int) -> str:
    """nested(depth) as JSON text, written out directly (json.dumps stops near 1,000 levels)."""
    return '{"inner":' * (depth - 1) + '{"leaf":1}' + "}" * (depth - 1)


def event(n: int, **extra: Any) -> dict[str, Any]:
    """Event `n` of contact `n`, a good row."""
    return {"telegram_id": n, "event": "visit", "occurred_at": 1764460800 + n, **extra}


def event_line(n: int, payload: str) -> str:
    """Event `n` as a JSON line whose payload is the JSON text `payload`."""
    return json.dumps(event(n))[:-1] + f', "payload": {payload}}}'


async def event_count(db: Database) -> int:
    """How many funnel events are stored."""
    async with db.read() as conn:
        return len((await conn.execute(select(funnel_events.c.id))).all())


async def test_import_deep_payload_on_line_5001_is_a_rejection(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A payload nested 1,000 deep on line 5,001 is rejected by line; the 5,000 others land."""
    lines = [event(n, payload={"step": n}) for n in range(1, 5001)]
    lines.append(event_line(5001, nested_json(1000)))
    answer = await api.request("POST", f"{BASE}/events:import", data=ndjson(*lines), headers=NDJSON)
    assert answer.status == 200, answer.body
    assert (answer.body["inserted"], answer.body["rejected"]) == (5000, 1)
    [rejection] = answer.body["rejections"]
    assert (rejection["line"], rejection["field"]) == (5001, "payload")
    assert rejection["reason"] == (
        "payload nests objects and arrays more than 32 levels deep; flatten it"
    )
    assert await event_count(db) == 5000


async def test_import_payload_bounds(api: Client, bot: dict[str, Any], db: Database) -> None:
    """payload: 32 levels and 16 KiB pass; deeper, larger or with a NUL is rejected, clearly."""
    fits = 16 * 1024 - len('{"x":""}')
    body = ndjson(
        event(1, payload=nested(32)),
        event(2, payload=nested(33)),
        event(3, payload={"x": "a" * fits}),
        event(4, payload={"x": "a" * (fits + 1)}),
        event(5, payload={"x": "nul\u0000"}),
        event(6, payload={"nul\u0000": 1}),
        event_line(7, nested_json(1100)),
    )
    answer = await api.request("POST", f"{BASE}/events:import", data=body, headers=NDJSON)
    assert (answer.body["inserted"], answer.body["rejected"]) == (2, 5), answer.body
    reasons = {r["line"]: (r["field"], r["reason"]) for r in answer.body["rejections"]}
    assert reasons[2] == (
        "payload",
        "payload nests objects and arrays more than 32 levels deep; flatten it",
    )
    assert reasons[4] == (
        "payload",
        "payload is 16385 bytes as JSON, above the 16 KiB accepted; keep only the fields you need",
    )
    assert reasons[5] == ("payload", "payload must not contain a NUL character (\\u0000)")
    assert reasons[6] == reasons[5]
    assert reasons[7] == (
        None,
        "the line nests JSON more than 1024 levels deep (payload accepts at most 32)",
    )
    cell = '"' + nested_json(1100).replace('"', '""') + '"'
    csv_body = f"telegram_id,event,occurred_at,payload\n8,visit,1764460808,{cell}\n"
    in_csv = await api.request("POST", f"{BASE}/events:import", data=csv_body, headers=CSV)
    assert [(r["line"], r["field"]) for r in in_csv.body["rejections"]] == [(2, "payload")]
    assert "more than 32 levels deep" in in_csv.body["rejections"][0]["reason"]
    async with db.read() as conn:
        rows = (await conn.execute(select(funnel_events))).mappings().all()
    assert {r["telegram_id"]: r["payload"] for r in rows} == {
        1: nested(32),
        3: {"x": "a" * fits},
    }


async def test_import_over_long_lines(api: Client, bot: dict[str, Any], db: Database) -> None:
    """A JSON line above 256 KiB is rejected by line; a CSV record above it refuses the file."""
    long_line = json.dumps({"telegram_id": 2, "first_name": "x" * (300 * 1024)})
    body = ndjson({"telegram_id": 1}, long_line, {"telegram_id": 3})
    answer = await api.request("POST", f"{BASE}/contacts:import", data=body, headers=NDJSON)
    assert (answer.body["inserted"], answer.body["rejected"]) == (2, 1), answer.body
    assert answer.body["rejections"] == [
        {
            "line": 2,
            "field": None,
            "reason": "the line is longer than 256 KiB; no row of an import needs that much",
        }
    ]
    record = ",".join(["y"] * (140 * 1024))  # short values, but very many of them
    csv_body = f"telegram_id,first_name\n4,Ana\n5,{record}\n6,Caio\n"
    refused = await api.request("POST", f"{BASE}/contacts:import", data=csv_body, headers=CSV)
    assert (refused.status, refused.body["error"]["code"]) == (400, "bad_request")
    assert refused.body["error"]["message"] == (
        "the CSV cannot be read at line 3: "
        "the line is longer than 256 KiB; no row of an import needs that much"
    )
    assert sorted(await contacts(db)) == [1, 3]  # nothing of the refused file


async def test_import_across_chunks(api: Client, bot: dict[str, Any], db: Database) -> None:
    """Line numbers, counts and 'the later row wins' hold across the chunks of one import."""
    lines = 3 * CHUNK_LINES
    rows = [f"{n},Name{n},user{n}" for n in range(1, lines)]
    rows[lines - 100] = "oops,,"  # a bad row far into the file
    rows.append("1,Later,")  # contact 1 again, in the last chunk: first_name changes, not username
    body = "telegram_id,first_name,username\n" + "\n".join(rows) + "\n"
    answer = await api.request("POST", f"{BASE}/contacts:import", data=body, headers=CSV)
    result = answer.body
    assert (result["inserted"], result["updated"], result["rejected"]) == (lines - 2, 1, 1)
    assert [r["line"] for r in result["rejections"]] == [lines - 100 + 2]
    stored = await contacts(db)
    assert (stored[1]["first_name"], stored[1]["username"]) == ("Later", "user1")
    assert len(stored) == lines - 2


def _refuse_contact(db: Database, telegram_id: int) -> list[str]:
    """Statements adding a trigger that makes the database refuse to insert that contact."""
    if db.is_sqlite:
        return [
            f"CREATE TRIGGER refuse_contact BEFORE INSERT ON telegram_contacts "
            f"WHEN NEW.telegram_id = {telegram_id} "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
        ]
    return [
        "CREATE FUNCTION refuse_contact() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'refused by the test trigger' USING ERRCODE = 'check_violation'; "
        "END $$",
        "CREATE TRIGGER refuse_contact BEFORE INSERT ON telegram_contacts FOR EACH ROW "
        f"WHEN (NEW.telegram_id = {telegram_id}) EXECUTE FUNCTION refuse_contact()",
    ]


async def test_import_failing_mid_write_leaves_nothing(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """The database refusing a row of a late chunk rolls back the chunks written before it."""
    seed = await api.request(
        "POST", f"{BASE}/contacts:import", data="telegram_id,first_name\n1,Before\n", headers=CSV
    )
    assert seed.body["inserted"] == 1
    async with db.write() as conn:
        for statement in _refuse_contact(db, 6000):
            await conn.execute(text(statement))
    rows = ["1,After"] + [f"{n},Name{n}" for n in range(2, 6001)]  # 6000: the last line
    body = "telegram_id,first_name\n" + "\n".join(rows) + "\n"
    answer = await api.request("POST", f"{BASE}/contacts:import", data=body, headers=CSV)
    assert (answer.status, answer.body["error"]["code"]) == (409, "conflict"), answer.body
    stored = await contacts(db)
    assert sorted(stored) == [1]
    assert stored[1]["first_name"] == "Before"


class BodyReceived:
    """ASGI middleware of these tests: sets `received` once an import's body is read whole."""

    def __init__(self, app: ASGIApp, received: asyncio.Event) -> None:
        self.app = app
        self.received = received

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(":import"):
            await self.app(scope, receive, send)
            return

        async def watched() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                self.received.set()
            return message

        await self.app(scope, watched, send)


async def serve_watched(build_app: BuildApp, serve: Serve) -> tuple[Client, asyncio.Event]:
    """The API with BodyReceived around it, and bot loja registered."""
    received = asyncio.Event()
    app = build_app()
    app.add_middleware(BodyReceived, received=received)
    api = await serve(app)
    answer = await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN, "name": "Loja"})
    assert answer.status == 201, answer.body
    return api, received


async def test_import_leaves_the_loop_free(build_app: BuildApp, serve: Serve) -> None:
    """/healthz is answered while the lines of a large import are being checked."""
    api, received = await serve_watched(build_app, serve)
    lines = 60_000
    body = "telegram_id,chat_state\n" + "".join(f"{n},gone\n" for n in range(1, lines + 1))
    answered: list[str] = []

    async def importing() -> Answer:
        answer = await api.request("POST", f"{BASE}/contacts:import", data=body, headers=CSV)
        answered.append("import")
        return answer

    async def health_once_received() -> Answer:
        await received.wait()
        answer = await api.get("/healthz")
        answered.append("health")
        return answer

    result, health = await asyncio.gather(importing(), health_once_received())
    assert answered == ["health", "import"], "the loop was held while the import ran"
    assert health.status == 200
    assert (result.body["inserted"], result.body["rejected"]) == (0, lines)


async def test_import_leaves_the_garbage_collector_on(build_app: BuildApp, serve: Serve) -> None:
    """The cycle collector stays enabled for the rest of the process while an import writes."""
    api, received = await serve_watched(build_app, serve)
    body = "telegram_id\n" + "".join(f"{n}\n" for n in range(1, 20_001))
    importing = asyncio.create_task(
        api.request("POST", f"{BASE}/contacts:import", data=body, headers=CSV)
    )
    await received.wait()
    enabled = []
    while not importing.done():
        enabled.append(gc.isenabled())
        await asyncio.sleep(0)
    assert (await importing).body["inserted"] == 20_000
    assert enabled
    assert all(enabled)


async def test_import_keeps_the_pix_audience(api: Client, bot: dict[str, Any]) -> None:
    """Imported events, contacts and transactions stamp has_pix in any order (and unstamp it)."""

    async def pix_audience() -> int:
        answer = await api.get("/admin/api/audience/estimate?bot_slug=loja&target=pix_created")
        count: int = answer.body["count"]
        return count

    events = ndjson(
        {"telegram_id": 1, "event": "pix_created", "occurred_at": 1764460800},
        {"telegram_id": 2, "event": "checkout_pix_created", "occurred_at": 1764460800},
        {"telegram_id": 3, "event": "visit", "occurred_at": 1764460800},
    )
    await api.request("POST", f"{BASE}/events:import", data=events, headers=NDJSON)
    people = "telegram_id,first_name\n1,Ana\n2,Bia\n3,Caio\n4,Davi\n"
    await api.request("POST", f"{BASE}/contacts:import", data=people, headers=CSV)
    assert await pix_audience() == 2  # the events came first
    created = "telegram_id,external_id,status,amount_cents\n4,pix-4,created,990\n"
    await api.request("POST", f"{BASE}/transactions:import", data=created, headers=CSV)
    assert await pix_audience() == 3
    expired = "telegram_id,external_id,status,amount_cents\n4,pix-4,expired,990\n"
    await api.request("POST", f"{BASE}/transactions:import", data=expired, headers=CSV)
    assert await pix_audience() == 2
