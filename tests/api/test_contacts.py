"""Contacts over HTTP: the table (search, state, filter, segment, sorts, keyset pages), its CSV,
one contact's story, and deleting contacts one by one or by a confirmed filter."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from api_support import Client
from sqlalchemy import func, insert, select

from disparo.db.engine import Database
from disparo.db.tables import (
    contact_tags,
    funnel_events,
    payment_transactions,
    shots_queue,
    shots_sent,
    telegram_contacts,
)
from disparo.db.tables_campaign import shot_conversions, shot_responses

BASE = "/admin/api/bots/loja/contacts"
BROWSE = BASE + ":browse"
# The machine's clock, as the API reads it for its own "now" (one clock for both).
T0 = datetime.now(UTC).replace(microsecond=0)
NAMES = {1: "Ana", 2: "Bruno", 3: "Carla", 4: "Davi", 5: "Eva", 6: "Fábio"}


@pytest.fixture
async def people(db: Database, bot: dict[str, Any]) -> None:
    """Contacts 1–6 of `loja`: 5 blocked, 6 deactivated; 4 never interacted, 3 never started;
    1 tagged vip and paid twice; 2 has a PIX event; shot 1 reached 1 (clicked, converted) and
    skipped 5 (blocked)."""
    rows = [
        {
            "bot_slug": "loja",
            "telegram_id": tid,
            "first_name": name,
            "username": name.lower() + "_tg",
            "chat_state": {5: "blocked", 6: "deactivated"}.get(tid, "active"),
            "last_interaction_at": None if tid == 4 else T0 - timedelta(hours=tid),
            "started_at": None if tid == 3 else T0 - timedelta(days=10 - tid),
            "blocked_at": T0 - timedelta(hours=1) if tid in (5, 6) else None,
            "updated_at": T0,
        }
        for tid, name in NAMES.items()
    ]
    payments = [
        {"bot_slug": "loja", "telegram_id": 1, "external_id": f"p{n}", "status": "paid"}
        | {"amount_cents": cents, "created_at": T0 - timedelta(days=n), "paid_at": T0}
        for n, cents in [(1, 2_500), (2, 7_500)]
    ]
    async with db.write() as conn:
        await conn.execute(insert(telegram_contacts), rows)
        await conn.execute(
            insert(contact_tags), [{"bot_slug": "loja", "telegram_id": 1, "tag": "vip"}]
        )
        await conn.execute(insert(payment_transactions), payments)
        await conn.execute(
            insert(funnel_events),
            [{"bot_slug": "loja", "telegram_id": 2, "event": "pix_created", "occurred_at": T0}],
        )
        shot = {"id": 1, "bot_slug": "loja", "target": "started", "copy": "Oferta de hoje"}
        await conn.execute(insert(shots_queue), [shot | {"status": "sent"}])
        delivery = {"shot_id": 1, "bot_slug": "loja"}
        sent_at = T0 - timedelta(minutes=30)
        await conn.execute(
            insert(shots_sent),
            [delivery | {"telegram_id": 1, "seq": 1, "status": "sent", "sent_at": sent_at}],
        )
        await conn.execute(
            insert(shots_sent),
            [delivery | {"telegram_id": 5, "seq": 2, "status": "skipped", "reason": "blocked"}],
        )
        await conn.execute(
            insert(shot_responses),
            [{"shot_id": 1, "kind": "click", "telegram_id": 1, "responded_at": T0}],
        )
        await conn.execute(
            insert(shot_conversions),
            [{"shot_id": 1, "event": "paid", "telegram_id": 1, "converted_at": T0}],
        )


async def ids(api: Client, query: str = "") -> list[int]:
    """Every id the table lists for `query`, following the cursors two by two."""
    found: list[int] = []
    cursor = ""
    while True:
        answer = await api.get(f"{BROWSE}?limit=2{query}{cursor}")
        assert answer.status == 200, answer.body
        found += [c["telegram_id"] for c in answer.body["items"]]
        if answer.body["next_cursor"] is None:
            return found
        cursor = "&cursor=" + quote(answer.body["next_cursor"])


def filter_param(tree: dict[str, Any]) -> str:
    return "&filter=" + quote(json.dumps(tree))


async def test_the_table_is_sorted_and_paged(api: Client, people: None) -> None:
    """Time sorts newest first with the contacts that have no time last; pages never repeat."""
    assert await ids(api) == [1, 2, 3, 5, 6, 4]
    assert await ids(api, "&sort=started") == [6, 5, 4, 2, 1, 3]
    assert await ids(api, "&sort=telegram_id") == [1, 2, 3, 4, 5, 6]
    assert await ids(api, "&sort=total_paid") == [1, 6, 5, 4, 3, 2]
    assert await ids(api, "&sort=total_paid&state=active") == [1, 4, 3, 2]
    first = (await api.get(f"{BROWSE}?limit=1")).body["items"][0]
    assert first["tags"] == ["vip"]
    assert first["total_paid_cents"] == 10_000
    assert first["chat_state"] == "active"
    assert first["username"] == "ana_tg"


async def test_the_table_is_searched_and_filtered(api: Client, people: None) -> None:
    """By name, @username or id; by state; by a filter tree or a saved segment."""
    assert await ids(api, "&q=CAR") == [3]
    assert await ids(api, "&q=@eva_") == [5]
    assert await ids(api, "&q=4") == [4]
    assert await ids(api, "&state=blocked") == [5]
    assert await ids(api, filter_param({"tag": "vip"})) == [1]
    assert await ids(api, filter_param({"not": {"tag": "vip"}}) + "&sort=telegram_id") == [
        2,
        3,
        4,
        5,
        6,
    ]
    segment = await api.post(
        "/admin/api/bots/loja/segments", {"name": "pix", "filter": {"last_pix": {"within_days": 3}}}
    )
    assert segment.status == 201, segment.body
    assert await ids(api, f"&segment_id={segment.body['id']}") == [1, 2]
    count = await api.get(f"{BASE}:count?" + filter_param({"tag": "vip"})[1:])
    assert count.body == {"count": 1}


async def test_table_errors(api: Client, people: None) -> None:
    """A bad cursor, filter, sort or segment is named; an unknown bot is 404."""
    bad_cursor = await api.get(f"{BROWSE}?cursor=abc")
    assert bad_cursor.status == 422
    assert bad_cursor.body["error"]["field"] == "cursor"
    bad_json = await api.get(f"{BROWSE}?filter=%7Bnope")
    assert bad_json.body["error"]["field"] == "filter"
    bad_tree = await api.get(BROWSE + "?" + filter_param({"tag": "VIP!"})[1:])
    assert bad_tree.status == 422
    assert bad_tree.body["error"]["field"].startswith("filter")
    assert (await api.get(f"{BROWSE}?sort=name")).status == 422
    assert (await api.get(f"{BROWSE}?segment_id=99")).body["error"]["field"] == "segment_id"
    assert (await api.get("/admin/api/bots/nada/contacts:browse")).status == 404
    for cursor in ("9" * 18 + ".1", "1." + "9" * 19, "1_0.5", "%201.5"):
        assert (await api.get(f"{BROWSE}?cursor={cursor}")).status == 422, cursor
    for hostile in ("q=a%00b", "filter=%7B%22tag%22%3A%22a%00%22%7D", "q=" + "9" * 30):
        assert (await api.get(f"{BROWSE}?{hostile}")).status in (200, 422), hostile
    for path in (BROWSE, BASE):  # a digit that is not 0-9 is searched as text
        assert (await api.get(f"{path}?q=%C2%B3")).body["items"] == []


async def test_the_table_is_exported_as_csv(api: Client, people: None) -> None:
    """Same columns, search and filter; every contact once, in the table's order."""
    answer = await api.get(f"{BASE}.csv?sort=telegram_id")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [int(r["telegram_id"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["tags"] == "vip"
    assert rows[0]["total_paid_cents"] == "10000"
    assert rows[1]["has_pix"] == "true"
    assert rows[3]["last_interaction_at"] == ""
    vip = await api.get(f"{BASE}.csv?" + filter_param({"tag": "vip"})[1:])
    assert [r["telegram_id"] for r in csv.DictReader(io.StringIO(vip.text))] == ["1"]


async def test_a_contacts_story(api: Client, people: None) -> None:
    """Fields, state times, tags, attributes, events, payments and each shot's outcome."""
    await api.patch(f"{BASE}/1", {"attributes": {"plano": "anual"}})
    ana = await api.get(f"{BASE}/1")
    assert ana.status == 200, ana.body
    assert ana.body["contact"]["first_name"] == "Ana"
    assert ana.body["contact"]["tags"] == ["vip"]
    assert ana.body["contact"]["total_paid_cents"] == 10_000
    assert ana.body["attributes"] == {"plano": "anual"}
    assert [p["external_id"] for p in ana.body["payments"]["items"]] == ["p1", "p2"]
    assert ana.body["payments"]["total"] == 2
    (shot,) = ana.body["shots"]["items"]
    assert shot["shot_id"] == 1
    assert shot["copy_snippet"] == "Oferta de hoje"
    assert shot["status"] == "sent"
    assert shot["clicked"] is True
    assert shot["converted_at"] is not None
    eva = (await api.get(f"{BASE}/5")).body
    assert eva["contact"]["blocked_at"] is not None
    (skipped,) = eva["shots"]["items"]
    assert (skipped["status"], skipped["reason"], skipped["clicked"]) == (
        "skipped",
        "blocked",
        False,
    )
    bruno = (await api.get(f"{BASE}/2")).body
    assert bruno["events"]["items"][0]["event"] == "pix_created"
    assert bruno["shots"] == {"items": [], "total": 0}
    assert (await api.get(f"{BASE}/99")).status == 404
    assert (await api.get("/admin/api/bots/nada/contacts/1")).status == 404


async def test_deleting_a_contact(api: Client, people: None, db: Database) -> None:
    """Its row, tags, events and payments go; the deliveries of shots stay."""
    assert (await api.delete(f"{BASE}/1")).status == 204
    assert (await api.get(f"{BASE}/1")).status == 404
    assert (await api.delete(f"{BASE}/1")).status == 404
    async with db.read() as conn:
        for table in (contact_tags, payment_transactions, shots_sent):
            found = select(func.count()).where(table.c.telegram_id == 1)
            assert await conn.scalar(found) == (1 if table is shots_sent else 0), table.name
    assert await ids(api, "&sort=telegram_id") == [2, 3, 4, 5, 6]


async def test_deleting_by_filter_needs_the_count(api: Client, people: None, db: Database) -> None:
    """A filter is required; a count that changed since the page showed it is refused."""
    unreachable = {"any": [{"tag": "vip"}, {"event": {"name": "pix_created"}}]}
    missing = await api.post(f"{BASE}:delete", {"expected_count": 6})
    assert missing.status == 422
    assert missing.body["error"]["field"] == "filter"
    stale = await api.post(f"{BASE}:delete", {"filter": unreachable, "expected_count": 3})
    assert stale.status == 409
    assert "matches 2 contacts" in stale.body["error"]["message"]
    done = await api.post(f"{BASE}:delete", {"filter": unreachable, "expected_count": 2})
    assert done.status == 200, done.body
    assert done.body == {"deleted": 2}
    assert await ids(api, "&sort=telegram_id") == [3, 4, 5, 6]
    async with db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(funnel_events)) == 0
