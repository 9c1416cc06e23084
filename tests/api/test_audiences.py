"""Audiences over HTTP: segments, tags, the estimate with its exclusions, and a shot's filter,
segment and send-time rules (bot settings, expiry, stop-on-conversion, quiet hours)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from api_support import OTHER_TOKEN, Client
from sqlalchemy import insert, update

from disparo.db.engine import Database
from disparo.db.tables import payment_transactions, shots_queue, shots_sent, telegram_contacts

SHOTS = "/admin/api/shots"
SEGMENTS = "/admin/api/bots/loja/segments"
REAL_NOW = datetime.now(UTC)  # the API's clock is the real one: every time here is relative to it


@pytest.fixture
async def contacts(db: Database, bot: dict[str, Any]) -> None:
    """Contacts 1–6 of `loja` (5 blocked, 6 deactivated); 1 and 2 paid, 4 never interacted."""
    rows = [
        {
            "bot_slug": "loja",
            "telegram_id": tid,
            "chat_state": state,
            "last_interaction_at": None if tid == 4 else REAL_NOW - timedelta(hours=tid),
            "updated_at": REAL_NOW,
        }
        for tid, state in [
            (1, "active"),
            (2, "active"),
            (3, "active"),
            (4, "active"),
            (5, "blocked"),
            (6, "deactivated"),
        ]
    ]
    payments = [
        {"bot_slug": "loja", "telegram_id": tid, "external_id": f"p{tid}", "status": "paid"}
        | {"amount_cents": cents, "created_at": REAL_NOW - timedelta(days=1), "paid_at": REAL_NOW}
        for tid, cents in [(1, 25_000), (2, 4_990)]
    ]
    async with db.write() as conn:
        await conn.execute(insert(telegram_contacts), rows)
        await conn.execute(insert(payment_transactions), payments)


async def tag(api: Client, telegram_id: int, *tags: str) -> dict[str, Any]:
    answer = await api.patch(
        f"/admin/api/bots/loja/contacts/{telegram_id}", {"add_tags": list(tags)}
    )
    assert answer.status == 200, answer.body
    body: dict[str, Any] = answer.body
    return body


async def test_contact_tags_are_added_and_removed(api: Client, contacts: None) -> None:
    """PATCH adds and removes; the answer is the contact's tags; the bot lists its tags."""
    assert (await tag(api, 1, "vip", "curso-a", "vip"))["tags"] == ["curso-a", "vip"]
    answer = await api.patch(
        "/admin/api/bots/loja/contacts/1", {"add_tags": ["aluno"], "remove_tags": ["vip"]}
    )
    assert answer.body == {"telegram_id": 1, "tags": ["aluno", "curso-a"], "attributes": {}}
    await tag(api, 2, "aluno")
    listed = await api.get("/admin/api/bots/loja/tags")
    assert listed.body["items"] == [
        {"tag": "aluno", "count": 2},
        {"tag": "curso-a", "count": 1},
    ]


async def test_contact_attributes_are_merged(api: Client, contacts: None) -> None:
    """Attributes merge into the contact's; null removes a key; bad keys and values are named."""
    path = "/admin/api/bots/loja/contacts/1"
    first = await api.patch(path, {"attributes": {"plano": "anual", "vip": True, "n": 3}})
    assert first.body["attributes"] == {"plano": "anual", "vip": True, "n": 3}
    second = await api.patch(path, {"attributes": {"plano": "mensal", "n": None}})
    assert second.body["attributes"] == {"plano": "mensal", "vip": True}
    assert (await api.patch(path, {"add_tags": ["a"]})).body["attributes"] == second.body[
        "attributes"
    ]
    bad_key = await api.patch(path, {"attributes": {"meu plano": "x"}})
    assert (bad_key.status, bad_key.body["error"]["field"]) == (422, "attributes.meu plano")
    nested = await api.patch(path, {"attributes": {"plano": {"a": 1}}})
    assert nested.status == 422
    nul = await api.patch(path, {"attributes": {"plano": "a\x00b"}})
    assert (nul.status, nul.body["error"]["field"]) == (422, "attributes.plano")


async def test_contact_tag_errors(api: Client, contacts: None) -> None:
    """A bad tag names the field and the rule; an unknown contact or bot is a 404."""
    bad = await api.patch("/admin/api/bots/loja/contacts/1", {"add_tags": ["VIP"]})
    assert bad.status == 422
    assert bad.body["error"]["field"] == "add_tags"
    assert "did you mean 'vip'" in bad.body["error"]["message"]
    both = await api.patch(
        "/admin/api/bots/loja/contacts/1", {"add_tags": ["a"], "remove_tags": ["a"]}
    )
    assert both.status == 422
    assert "added and removed at once" in both.body["error"]["message"]
    missing = await api.patch("/admin/api/bots/loja/contacts/99", {"add_tags": ["a"]})
    assert missing.status == 404
    assert "contact 99" in missing.body["error"]["message"]
    no_bot = await api.patch("/admin/api/bots/nada/contacts/1", {"add_tags": ["a"]})
    assert no_bot.status == 404
    assert "bot 'nada'" in no_bot.body["error"]["message"]


async def test_tags_apply_to_every_contact_a_filter_matches(api: Client, contacts: None) -> None:
    """In bulk, blocked contacts included; counts only contacts that changed; remove undoes."""
    body = {"tag": "comprador", "filter": {"paid": {}}}
    first = await api.post("/admin/api/bots/loja/tags:apply", body)
    assert first.body == {"tag": "comprador", "changed": 2}
    again = await api.post("/admin/api/bots/loja/tags:apply", body)
    assert again.body["changed"] == 0
    wide = await api.post(
        "/admin/api/bots/loja/tags:apply", {"tag": "comprador", "filter": {"not": {"tag": "x"}}}
    )
    assert wide.body["changed"] == 4  # 3, 4 and the blocked and deactivated 5, 6
    removed = await api.post(
        "/admin/api/bots/loja/tags:apply",
        {"tag": "comprador", "filter": {"total_paid": {"min_cents": 10_000}}, "remove": True},
    )
    assert removed.body["changed"] == 1
    listed = await api.get("/admin/api/bots/loja/tags")
    assert listed.body["items"] == [{"tag": "comprador", "count": 5}]
    bad = await api.post(
        "/admin/api/bots/loja/tags:apply", {"tag": "x", "filter": {"any": [{"paid": 3}]}}
    )
    assert bad.status == 422
    assert bad.body["error"]["field"] == "filter.any[0].paid"


async def test_segments_are_saved_counted_renamed_and_deleted(
    api: Client, contacts: None, db: Database
) -> None:
    """CRUD with live counts; names are unique per bot; a segment in use cannot be deleted."""
    created = await api.post(SEGMENTS, {"name": "Compradores", "filter": {"paid": {}}})
    assert created.status == 201, created.body
    segment = created.body
    assert (segment["name"], segment["count"], segment["filter"]) == (
        "Compradores",
        2,
        {"paid": {}},
    )
    taken = await api.post(SEGMENTS, {"name": "Compradores", "filter": {"tag": "a"}})
    assert taken.status == 409
    assert taken.body["error"]["field"] == "name"
    bad = await api.post(SEGMENTS, {"name": "X", "filter": {"paid": {"min_cents": "10"}}})
    assert bad.status == 422
    assert bad.body["error"]["field"] == "filter.paid.min_cents"
    path = f"{SEGMENTS}/{segment['id']}"
    edited = await api.patch(path, {"filter": {"total_paid": {"min_cents": 10_000}}})
    assert (edited.body["count"], edited.body["name"]) == (1, "Compradores")
    assert (await api.get(SEGMENTS)).body["items"][0]["count"] == 1
    shot = await api.post(
        SHOTS,
        {"bot_slug": "loja", "target": "started", "copy": "Oi"} | {"segment_id": segment["id"]},
    )
    assert shot.status == 201, shot.body
    refused = await api.delete(path)
    assert refused.status == 409
    assert f"{shot.body['id']}" in refused.body["error"]["message"]
    async with db.write() as conn:  # the shot ends: the segment may go, the shot stays
        await conn.execute(update(shots_queue).values(status="sent"))
    assert (await api.delete(path)).status == 204
    assert (await api.get(path)).status == 404
    kept = await api.get(f"{SHOTS}/{shot.body['id']}")
    assert (kept.status, kept.body["segment_id"]) == (200, None)


async def test_estimate_with_exclusions(api: Client, contacts: None, db: Database) -> None:
    """Who is left out by what; the bot's frequency cap counts unless the shot ignores it."""
    await tag(api, 3, "aluno")
    changed = await api.patch(
        "/admin/api/bots/loja", {"max_shots_per_contact": 1, "cap_window_hours": 24}
    )
    assert changed.status == 200, changed.body
    shot = await api.post(SHOTS, {"bot_slug": "loja", "target": "started", "copy": "Oi"})
    async with db.write() as conn:
        await conn.execute(
            insert(shots_sent).values(
                shot_id=shot.body["id"],
                bot_slug="loja",
                telegram_id=2,
                seq=1,
                status="sent",
                sent_at=REAL_NOW - timedelta(hours=2),
            )
        )
    body = {"bot_slug": "loja", "target": "started", "recency_days": 1}
    body["filter"] = {"not": {"tag": "aluno"}}
    answer = await api.post("/admin/api/audience/estimate", body)
    assert answer.status == 200, answer.body
    assert answer.body["count"] == 1  # contact 1
    assert answer.body["excluded"] == {
        "blocked": 1,
        "deactivated": 1,
        "recency": 1,  # 4 never interacted
        "filter": 1,  # 3 is aluno
        "frequency_cap": 1,  # 2 got a shot 2 hours ago
    }
    ignoring = await api.post("/admin/api/audience/estimate", body | {"ignore_frequency_cap": True})
    assert (ignoring.body["count"], ignoring.body["excluded"]["frequency_cap"]) == (2, 0)
    legacy = await api.get("/admin/api/audience/estimate?bot_slug=loja&target=started")
    assert legacy.body["count"] == 4


async def test_estimate_errors(api: Client, contacts: None) -> None:
    """Both a filter and a segment, a foreign segment, an unknown bot: 422 naming the field."""
    body = {"bot_slug": "loja", "target": "started"}
    both = await api.post(
        "/admin/api/audience/estimate", body | {"filter": {"tag": "a"}, "segment_id": 1}
    )
    assert (both.status, both.body["error"]["field"]) == (422, "segment_id")
    missing = await api.post("/admin/api/audience/estimate", body | {"segment_id": 77})
    assert missing.status == 422
    assert "no segment 77" in missing.body["error"]["message"]
    deep = await api.post(
        "/admin/api/audience/estimate",
        body | {"filter": {"all": [{"tag": "a"}, {"tag": "b"}, {"paid": {"min_cents": -5}}]}},
    )
    assert deep.body["error"]["field"] == "filter.all[2].paid.min_cents"
    nobody = await api.post("/admin/api/audience/estimate", body | {"bot_slug": "nada"})
    assert (nobody.status, nobody.body["error"]["field"]) == (422, "bot_slug")


async def test_shot_audience_and_rules_fields(api: Client, contacts: None) -> None:
    """A shot stores its filter or segment and its rules; a patch switches filter and segment."""
    expires = (REAL_NOW + timedelta(days=1)).isoformat()
    body = {"bot_slug": "loja", "target": "started", "copy": "Oi", "filter": {"tag": "vip"}}
    body |= {"expires_at": expires, "stop_on": "paid", "ignore_frequency_cap": True}
    created = await api.post(SHOTS, body)
    assert created.status == 201, created.body
    shot = created.body
    assert (shot["filter"], shot["segment_id"], shot["stop_on"]) == ({"tag": "vip"}, None, "paid")
    assert datetime.fromisoformat(shot["expires_at"]) == datetime.fromisoformat(expires)
    assert (shot["ignore_frequency_cap"], shot["quiet_until"]) == (True, None)
    segment = (await api.post(SEGMENTS, {"name": "VIP", "filter": {"tag": "vip"}})).body
    moved = await api.patch(f"{SHOTS}/{shot['id']}", {"segment_id": segment["id"]})
    assert (moved.body["segment_id"], moved.body["filter"]) == (segment["id"], None)
    back = await api.patch(f"{SHOTS}/{shot['id']}", {"filter": {"paid": {}}, "stop_on": None})
    assert (back.body["segment_id"], back.body["filter"], back.body["stop_on"]) == (
        None,
        {"paid": {}},
        None,
    )


async def test_shot_rule_errors(api: Client, contacts: None) -> None:
    """Expiry before the schedule, a filter error's path, a segment of another bot, stop_on."""
    base = {"bot_slug": "loja", "target": "started", "copy": "Oi"}
    past = await api.post(
        SHOTS, base | {"expires_at": (REAL_NOW - timedelta(minutes=1)).isoformat()}
    )
    assert (past.status, past.body["error"]["field"]) == (422, "expires_at")
    before = await api.post(
        SHOTS,
        base
        | {
            "scheduled_at": (REAL_NOW + timedelta(days=2)).isoformat(),
            "expires_at": (REAL_NOW + timedelta(days=1)).isoformat(),
        },
    )
    assert (before.status, before.body["error"]["field"]) == (422, "expires_at")
    bad = await api.post(SHOTS, base | {"filter": {"not": {"language": ["PT"]}}})
    assert (bad.status, bad.body["error"]["field"]) == (422, "filter.not.language[0]")
    other = await api.post("/admin/api/bots", {"slug": "outra", "token": OTHER_TOKEN})
    assert other.status == 201, other.body
    theirs = await api.post(
        "/admin/api/bots/outra/segments", {"name": "Todos", "filter": {"tag": "x"}}
    )
    foreign = await api.post(SHOTS, base | {"segment_id": theirs.body["id"]})
    assert (foreign.status, foreign.body["error"]["field"]) == (422, "segment_id")
    wrong = await api.post(SHOTS, base | {"stop_on": "clicked"})
    assert wrong.status == 422


async def test_bot_rules_are_checked_and_shown(api: Client, bot: dict[str, Any]) -> None:
    """The cap needs both fields; quiet hours are two different HH:MM; null switches off."""
    assert (bot["max_shots_per_contact"], bot["cap_window_hours"], bot["quiet_hours"]) == (
        None,
        None,
        None,
    )
    half = await api.patch("/admin/api/bots/loja", {"max_shots_per_contact": 2})
    assert (half.status, half.body["error"]["field"]) == (422, "cap_window_hours")
    quiet = await api.patch("/admin/api/bots/loja", {"quiet_hours": {"start": "22h", "end": "8"}})
    assert (quiet.status, quiet.body["error"]["field"]) == (422, "quiet_hours")
    assert "HH:MM" in quiet.body["error"]["message"]
    same = await api.patch(
        "/admin/api/bots/loja", {"quiet_hours": {"start": "22:00", "end": "22:00"}}
    )
    assert same.status == 422
    body = {"max_shots_per_contact": 2, "cap_window_hours": 24}
    body |= {"quiet_hours": {"start": "22:00", "end": "08:00"}}
    done = await api.patch("/admin/api/bots/loja", body)
    assert done.status == 200, done.body
    assert (done.body["max_shots_per_contact"], done.body["cap_window_hours"]) == (2, 24)
    assert done.body["quiet_hours"] == {"start": "22:00", "end": "08:00"}
    off = await api.patch(
        "/admin/api/bots/loja",
        {"max_shots_per_contact": None, "cap_window_hours": None, "quiet_hours": None},
    )
    assert (off.body["max_shots_per_contact"], off.body["quiet_hours"]) == (None, None)


async def test_a_due_shot_shows_when_quiet_hours_end(api: Client, bot: dict[str, Any]) -> None:
    """quiet_until: set while the bot's quiet hours hold a due shot, in UTC."""
    local = REAL_NOW.astimezone(ZoneInfo("America/Sao_Paulo"))
    start = (local - timedelta(hours=1)).strftime("%H:%M")
    end = (local + timedelta(hours=2)).strftime("%H:%M")
    await api.patch("/admin/api/bots/loja", {"quiet_hours": {"start": start, "end": end}})
    shot = await api.post(SHOTS, {"bot_slug": "loja", "target": "started", "copy": "Oi"})
    until = datetime.fromisoformat(shot.body["quiet_until"])
    expected = (local + timedelta(hours=2)).replace(second=0, microsecond=0)
    assert until == expected
    later = await api.post(
        SHOTS,
        {"bot_slug": "loja", "target": "started", "copy": "Oi"}
        | {"scheduled_at": (REAL_NOW + timedelta(days=1)).isoformat()},
    )
    assert later.body["quiet_until"] is None  # not due yet


async def test_deleting_a_bot_takes_its_segments_and_tags(api: Client, contacts: None) -> None:
    """The bot's segments, the shots using them and the contacts' tags go with it."""
    await tag(api, 1, "vip")
    segment = (await api.post(SEGMENTS, {"name": "VIP", "filter": {"tag": "vip"}})).body
    shot = await api.post(
        SHOTS, {"bot_slug": "loja", "target": "started", "copy": "Oi", "segment_id": segment["id"]}
    )
    assert shot.status == 201, shot.body
    assert (await api.delete("/admin/api/bots/loja")).status == 204
    assert (await api.get(f"{SHOTS}/{shot.body['id']}")).status == 404
