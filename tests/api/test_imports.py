"""Bulk import of contacts, funnel events and payment transactions (JSON lines and CSV)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from api_support import Client
from sqlalchemy import select

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
