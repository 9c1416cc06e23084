"""Templates and personal variables over HTTP: saved messages, shots made from them, the
rendered preview, and the test send filled in with the test chat's own values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import TOKEN, Client
from sqlalchemy import insert

from disparo.db.engine import Database
from disparo.db.tables import contact_tags, payment_transactions, telegram_contacts

TEMPLATES = "/admin/api/templates"
SHOTS = "/admin/api/shots"
REAL_NOW = datetime.now(UTC)  # the API's clock is the real one
HOSTILE = "<b>Ana</b> & <i>"


@pytest.fixture
async def contacts(db: Database, bot: dict[str, Any]) -> None:
    """Contact 42 with a hostile first name, a PIX and a tag; 43 with nothing; 44 blocked."""
    blank = {"first_name": None, "username": None, "attributes": None, "chat_state": "active"}
    rows = [
        blank
        | {"telegram_id": 42, "first_name": HOSTILE, "username": "ana"}
        | {"attributes": {"plano": "anual"}, "last_interaction_at": REAL_NOW - timedelta(hours=1)},
        blank | {"telegram_id": 43, "last_interaction_at": REAL_NOW - timedelta(hours=2)},
        blank
        | {"telegram_id": 44, "chat_state": "blocked", "first_name": "Bia"}
        | {"last_interaction_at": None},
    ]
    async with db.write() as conn:
        await conn.execute(
            insert(telegram_contacts),
            [{"bot_slug": "loja", "updated_at": REAL_NOW} | r for r in rows],
        )
        await conn.execute(
            insert(payment_transactions).values(
                bot_slug="loja",
                telegram_id=42,
                external_id="p1",
                status="created",
                amount_cents=4990,
                created_at=REAL_NOW - timedelta(hours=3),
            )
        )
        await conn.execute(insert(contact_tags).values(bot_slug="loja", telegram_id=42, tag="vip"))


async def test_templates_are_saved_listed_changed_and_deleted(api: Client, bot: Any) -> None:
    """CRUD; the variables each uses; a bot's list holds its own and the shared ones."""
    body = {"name": "PIX", "copy": "{first_name|Oi}, seu PIX de {last_pix_amount}!"}
    shared = await api.post(TEMPLATES, body)
    assert shared.status == 201, shared.body
    assert shared.body["variables"] == ["first_name", "last_pix_amount"]
    assert shared.body["bot_slug"] is None
    own = await api.post(TEMPLATES, {"name": "Boas-vindas", "copy": "Olá!", "bot_slug": "loja"})
    assert own.status == 201
    listed = await api.get(f"{TEMPLATES}?bot_slug=loja")
    assert [t["name"] for t in listed.body["items"]] == ["Boas-vindas", "PIX"]
    assert [t["name"] for t in (await api.get(f"{TEMPLATES}?bot_slug=outra")).body["items"]] == [
        "PIX"
    ]
    path = f"{TEMPLATES}/{shared.body['id']}"
    changed = await api.patch(path, {"copy": "Novo {username}", "media_type": "photo"})
    assert changed.status == 422  # a photo needs its media_url
    assert changed.body["error"]["field"] == "media_url"
    changed = await api.patch(path, {"copy": "Novo {username}"})
    assert (changed.body["copy"], changed.body["variables"]) == ("Novo {username}", ["username"])
    assert (await api.delete(path)).status == 204
    assert (await api.get(path)).status == 404


async def test_unknown_variables_are_named_with_the_accepted_ones(api: Client, bot: Any) -> None:
    """In copy and in a button's URL; a stray brace says how to write a literal one."""
    bad = await api.post(TEMPLATES, {"name": "x", "copy": "Oi {nome}"})
    assert (bad.status, bad.body["error"]["field"]) == (422, "copy")
    assert "unknown variable {nome}" in bad.body["error"]["message"]
    assert "{first_name}" in bad.body["error"]["message"]
    buttons = [[{"text": "Pagar", "url": "https://x.example/{pix_id}"}]]
    in_url = await api.post(
        SHOTS, {"bot_slug": "loja", "target": "started", "copy": "Oi"} | {"buttons": buttons}
    )
    assert (in_url.status, in_url.body["error"]["field"]) == (422, "buttons[0][0].url")
    brace = await api.post(SHOTS, {"bot_slug": "loja", "target": "started", "copy": "Oi {"})
    assert "write {{ for a literal brace" in brace.body["error"]["message"]
    literal = await api.post(SHOTS, {"bot_slug": "loja", "target": "started", "copy": "{{Oi}}"})
    assert literal.status == 201, literal.body


async def test_a_copy_that_can_be_too_long_needs_acceptance(api: Client, bot: Any) -> None:
    """{tags} has no bound: the shot is refused unless accept_too_long; short ones pass."""
    body = {"bot_slug": "loja", "target": "started", "copy": "Suas tags: {tags}"}
    refused = await api.post(SHOTS, body)
    assert (refused.status, refused.body["error"]["field"]) == (422, "copy")
    assert "accept_too_long" in refused.body["error"]["message"]
    assert (await api.post(SHOTS, body | {"accept_too_long": True})).status == 201
    near = "x" * 4000 + " {first_name}{last_name}"  # 4001 + 128 can pass 4096
    assert (await api.post(SHOTS, body | {"copy": near})).status == 422
    assert (await api.post(SHOTS, body | {"copy": "Oi {first_name}"})).status == 201


async def test_a_shot_from_a_template_is_a_copy(api: Client, bot: Any) -> None:
    """Fields given win; a later edit of the template never changes the shot."""
    template = (
        await api.post(
            TEMPLATES,
            {
                "name": "Promo",
                "copy": "<b>Promo</b> {first_name|amigo}",
                "media_type": "photo",
                "media_url": "https://example.com/a.jpg",
                "buttons": [[{"text": "Ver", "url": "https://example.com/?u={username}"}]],
            },
        )
    ).body
    created = await api.post(
        SHOTS, {"bot_slug": "loja", "target": "started", "from_template": template["id"]}
    )
    assert created.status == 201, created.body
    shot = created.body
    assert (shot["copy"], shot["media_type"], shot["media_url"]) == (
        "<b>Promo</b> {first_name|amigo}",
        "photo",
        "https://example.com/a.jpg",
    )
    assert shot["buttons"] == template["buttons"]
    await api.patch(f"{TEMPLATES}/{template['id']}", {"copy": "Mudou"})
    assert (await api.get(f"{SHOTS}/{shot['id']}")).body["copy"] == shot["copy"]
    overridden = await api.post(
        SHOTS,
        {"bot_slug": "loja", "target": "started", "from_template": template["id"], "copy": "Oi"},
    )
    assert (overridden.body["copy"], overridden.body["media_type"]) == ("Oi", "photo")
    other = await api.post(TEMPLATES, {"name": "Outra", "copy": "x", "bot_slug": "loja"})
    await api.post("/admin/api/bots", {"slug": "outra", "token": "987654321:" + "Z" * 35})
    foreign = await api.post(
        SHOTS, {"bot_slug": "outra", "target": "started", "from_template": other.body["id"]}
    )
    assert (foreign.status, foreign.body["error"]["field"]) == (422, "from_template")
    nothing = await api.post(SHOTS, {"bot_slug": "loja", "target": "started"})
    assert (nothing.status, nothing.body["error"]["field"]) == (422, "copy")


async def test_preview_renders_exactly_what_a_contact_receives(api: Client, contacts: None) -> None:
    """Escaped values, BRL amounts, fallbacks, URL encoding; missing values are reported."""
    body = {
        "bot_slug": "loja",
        "copy": "<b>{first_name|amigo}</b>, PIX de {last_pix_amount} ({tags}, {attr.plano})",
        "buttons": [[{"text": "Pagar", "url": "https://x.example/pix?n={first_name}"}]],
    }
    one = await api.post(f"{SHOTS}/preview", body | {"telegram_id": 42})
    assert one.status == 200, one.body
    item = one.body["items"][0]
    assert item["copy"] == (
        "<b>&lt;b&gt;Ana&lt;/b&gt; &amp; &lt;i&gt;</b>, PIX de R$ 49,90 (vip, anual)"
    )
    assert item["buttons"][0][0]["url"] == (
        "https://x.example/pix?n=%3Cb%3EAna%3C%2Fb%3E%20%26%20%3Ci%3E"
    )
    assert (item["known"], item["name"], item["missing"], item["too_long"]) == (
        True,
        HOSTILE,
        [],
        False,
    )
    first = await api.post(f"{SHOTS}/preview", body)
    items = first.body["items"]
    assert [i["telegram_id"] for i in items] == [42, 43]  # the audience, in send order
    assert items[1]["copy"] == "<b>amigo</b>, PIX de  (, )"
    assert items[1]["missing"] == ["last_pix_amount", "tags", "attr.plano"]
    stranger = await api.post(f"{SHOTS}/preview", body | {"telegram_id": 999})
    assert (stranger.body["items"][0]["known"], stranger.body["items"][0]["name"]) == (False, None)


async def test_the_test_send_fills_in_the_test_chats_values(
    api: Client, sim: Client, contacts: None
) -> None:
    """The shot's test send renders with the chat's own contact values."""
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 42, "state": "active"}], token=None)
    shot = await api.post(
        SHOTS, {"bot_slug": "loja", "target": "started", "copy": "Oi <b>{first_name}</b>!"}
    )
    answer = await api.post(f"{SHOTS}/{shot.body['id']}/test", {"telegram_id": 42})
    assert answer.status == 200, answer.body
    delivered = (await sim.get(f"/sim/bots/{TOKEN}/messages?chat_id=42", token=None)).body
    [message] = delivered["result"]
    assert message["text"] == f"Oi {HOSTILE}!"  # the name arrives as text, never as markup


async def test_estimate_says_who_lacks_a_value_and_how_many_are_too_long(
    api: Client, contacts: None
) -> None:
    """Variables without a fallback count the audience's contacts without a value; a copy
    pushed past the limit by a long attribute is counted as too long."""
    body = {"bot_slug": "loja", "target": "started"}
    body["copy"] = "{first_name}, {username|você}: {last_pix_amount} {attr.plano} {tags}"
    answer = await api.post("/admin/api/audience/estimate", body)
    assert answer.status == 200, answer.body
    assert answer.body["count"] == 2  # 42 and 43; 44 is blocked
    assert answer.body["missing"] == {
        "first_name": 1,
        "last_pix_amount": 1,
        "attr.plano": 1,
        "tags": 1,
    }
    assert answer.body["too_long"] == 0
    await api.patch("/admin/api/bots/loja/contacts/43", {"attributes": {"plano": "x" * 1000}})
    long_copy = {"copy": "y" * 3500 + " {attr.plano}", "media_type": "none"}
    over = await api.post("/admin/api/audience/estimate", body | long_copy)
    assert (over.body["too_long"], over.body["missing"]) == (1, {"attr.plano": 0})
    caption = await api.post(
        "/admin/api/audience/estimate", body | {"copy": "z" * 1000 + "{first_name}"}
    )
    assert caption.body["too_long"] == 0
    as_photo = await api.post(
        "/admin/api/audience/estimate",
        body | {"copy": "z" * 1010 + "{first_name}", "media_type": "photo"},
    )
    assert as_photo.body["too_long"] == 1  # 42's name passes the 1024 of a caption
    plain = await api.post(
        "/admin/api/audience/estimate", {"bot_slug": "loja", "target": "started"}
    )
    assert (plain.body["missing"], plain.body["too_long"]) == (None, None)


async def test_contacts_are_found_by_name_username_or_id(api: Client, contacts: None) -> None:
    """Any case, part of a name, @username or the id; latest interaction first."""
    found = await api.get("/admin/api/bots/loja/contacts?q=ANA")
    assert [c["telegram_id"] for c in found.body["items"]] == [42]
    assert (await api.get("/admin/api/bots/loja/contacts?q=@ana")).body["items"][0][
        "username"
    ] == "ana"
    assert [
        c["telegram_id"]
        for c in (await api.get("/admin/api/bots/loja/contacts?q=43")).body["items"]
    ] == [43]
    wild = await api.get("/admin/api/bots/loja/contacts?q=%25")
    assert wild.body["items"] == []  # % is a character, not a wildcard
    assert (await api.get("/admin/api/bots/nada/contacts?q=a")).status == 404


async def test_an_accepted_length_risk_holds_until_the_copy_changes(api: Client, bot: Any) -> None:
    """An attribute is bounded (1,000 characters): a short copy needs no acceptance; a patch
    that leaves the copy alone keeps what was accepted; a new copy is checked again."""
    body = {"bot_slug": "loja", "target": "started", "copy": "Oi {attr.plano}"}
    created = await api.post(SHOTS, body)
    assert created.status == 201, created.body
    assert created.body["templated"] is True
    risky = await api.post(
        SHOTS, body | {"copy": "x" * 3500 + "{attr.plano}", "accept_too_long": True}
    )
    assert risky.status == 201, risky.body
    path = f"{SHOTS}/{risky.body['id']}"
    later = (REAL_NOW + timedelta(days=1)).isoformat()
    assert (await api.patch(path, {"scheduled_at": later})).status == 200
    again = await api.patch(path, {"copy": "y" * 3500 + "{attr.plano}"})
    assert (again.status, again.body["error"]["field"]) == (422, "copy")
