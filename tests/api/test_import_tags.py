"""Contacts imports carrying tags (tags_mode add or replace) and custom attributes."""

from __future__ import annotations

import json
from typing import Any

from api_support import Client
from sqlalchemy import select

from disparo.api.routes.imports import CHUNK_LINES
from disparo.db.engine import Database
from disparo.db.tables import contact_tags, telegram_contacts

BASE = "/admin/api/bots/loja"
NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


def ndjson(*rows: Any) -> str:
    """JSON lines of `rows`."""
    return "".join(json.dumps(row) + "\n" for row in rows)


async def send(api: Client, body: str, *, csv: bool, mode: str | None = None) -> dict[str, Any]:
    """POST a contacts import (tags_mode `mode` if given); its answer, which must be a 200."""
    query = f"?tags_mode={mode}" if mode else ""
    answer = await api.request(
        "POST", f"{BASE}/contacts:import{query}", data=body, headers=CSV if csv else NDJSON
    )
    assert answer.status == 200, answer.body
    result: dict[str, Any] = answer.body
    return result


async def tags(db: Database) -> dict[int, list[str]]:
    """Bot loja's tags by contact, sorted."""
    t = contact_tags.c
    async with db.read() as conn:
        rows = await conn.execute(
            select(t.telegram_id, t.tag).where(t.bot_slug == "loja").order_by(t.tag)
        )
        found: dict[int, list[str]] = {}
        for telegram_id, tag in rows.tuples():
            found.setdefault(telegram_id, []).append(tag)
    return found


async def attributes(db: Database) -> dict[int, Any]:
    """Bot loja's contacts' attributes by telegram_id (None when they have none)."""
    c = telegram_contacts.c
    async with db.read() as conn:
        rows = await conn.execute(select(c.telegram_id, c.attributes).where(c.bot_slug == "loja"))
        return dict(rows.tuples().all())


async def test_csv_tags_and_attribute_columns(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """CSV: tags split at |, attr.<key> columns merged; an empty cell leaves a key as it is."""
    first = (
        "telegram_id,first_name,tags,attr.plano,attr.cupom\n"
        "1,Ana,vip|curso-a,anual,BF30\n"
        "2,Bia, vip | curso-b ,,\n"
        "3,Caio,,mensal,\n"
    )
    result = await send(api, first, csv=True)
    assert (result["inserted"], result["rejected"], result["tags_mode"]) == (3, 0, "add")
    assert await tags(db) == {1: ["curso-a", "vip"], 2: ["curso-b", "vip"]}
    assert await attributes(db) == {
        1: {"plano": "anual", "cupom": "BF30"},
        2: None,
        3: {"plano": "mensal"},
    }
    second = "telegram_id,attr.plano,attr.nivel\n1,,3\n3,anual,\n"
    result = await send(api, second, csv=True)
    assert (result["updated"], result["rejected"]) == (2, 0)
    assert await attributes(db) == {
        1: {"plano": "anual", "cupom": "BF30", "nivel": "3"},  # a CSV cell is text
        2: None,
        3: {"plano": "anual"},
    }


async def test_ndjson_tags_and_attributes(api: Client, bot: dict[str, Any], db: Database) -> None:
    """JSON lines: tags as a list, attributes as an object merged in, a null removing a key."""
    first = ndjson(
        {"telegram_id": 1, "tags": ["vip", "curso-a", "vip"], "attributes": {"plano": "anual"}},
        {"telegram_id": 2, "attributes": {"pontos": 120, "ativo": True, "gone": None}},
        {"telegram_id": 3, "tags": [], "attributes": {}},
    )
    result = await send(api, first, csv=False)
    assert (result["inserted"], result["rejected"]) == (3, 0)
    assert await tags(db) == {1: ["curso-a", "vip"]}
    assert await attributes(db) == {
        1: {"plano": "anual"},
        2: {"pontos": 120, "ativo": True},  # a null on a new contact is just left out
        3: None,
    }
    second = ndjson(
        {"telegram_id": 1, "attributes": {"plano": None, "cupom": "BF30"}},
        {"telegram_id": 2, "attributes": {"pontos": None, "ativo": None}},
        {"telegram_id": 3, "attributes": {"nota": 9.5}},
    )
    result = await send(api, second, csv=False)
    assert (result["updated"], result["rejected"]) == (3, 0)
    assert await attributes(db) == {1: {"cupom": "BF30"}, 2: None, 3: {"nota": 9.5}}


async def test_add_and_replace(api: Client, bot: dict[str, Any], db: Database) -> None:
    """add puts a row's tags beside the contact's; replace makes them its whole set, an empty
    value clearing it; rows without tags keep theirs in both modes."""
    seed = "telegram_id,tags\n1,vip|antigo\n2,vip\n3,antigo\n4,vip\n"
    await send(api, seed, csv=True)
    added = ndjson({"telegram_id": 1, "tags": ["curso-a"]}, {"telegram_id": 2, "tags": []})
    assert (await send(api, added, csv=False, mode="add"))["tags_mode"] == "add"
    assert await tags(db) == {
        1: ["antigo", "curso-a", "vip"],
        2: ["vip"],
        3: ["antigo"],
        4: ["vip"],
    }
    replaced = "telegram_id,first_name,tags\n1,Ana,curso-b|vip\n2,Bia,\n"
    result = await send(api, replaced, csv=True, mode="replace")
    assert (result["updated"], result["tags_mode"]) == (2, "replace")
    assert await tags(db) == {1: ["curso-b", "vip"], 3: ["antigo"], 4: ["vip"]}
    replaced = ndjson(
        {"telegram_id": 3, "tags": []},
        {"telegram_id": 4, "first_name": "Davi"},  # no tags key: untouched
        {"telegram_id": 5, "tags": ["novo"]},
    )
    result = await send(api, replaced, csv=False, mode="replace")
    assert (result["inserted"], result["updated"]) == (1, 2)
    assert await tags(db) == {1: ["curso-b", "vip"], 4: ["vip"], 5: ["novo"]}


async def test_no_tags_column_leaves_tags(api: Client, bot: dict[str, Any], db: Database) -> None:
    """An import without a tags column changes no tag, in either mode."""
    await send(api, "telegram_id,tags\n1,vip|curso-a\n2,vip\n", csv=True)
    for mode in ("add", "replace"):
        await send(
            api, f"telegram_id,first_name\n1,Ana-{mode}\n2,Bia\n3,Caio\n", csv=True, mode=mode
        )
        await send(api, ndjson({"telegram_id": 2, "attributes": {"a": 1}}), csv=False, mode=mode)
        assert await tags(db) == {1: ["curso-a", "vip"], 2: ["vip"]}


async def test_bad_tags_and_attributes_reject_their_rows(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A bad tag or attribute rejects its row with the line, the field and the rule; the others
    land."""
    body = ndjson(
        {"telegram_id": 1, "tags": ["vip"], "attributes": {"plano": "anual"}},
        {"telegram_id": 2, "tags": ["VIP"]},
        {"telegram_id": 3, "tags": "vip"},
        {"telegram_id": 4, "attributes": {"plano-x": "anual"}},
        {"telegram_id": 5, "attributes": {"plano": {"nested": 1}}},
        {"telegram_id": 6, "attributes": {"texto": "x" * 1001}},
        {"telegram_id": 7, "attributes": ["plano"]},
        {"telegram_id": 8, "attributes": {f"k{n}": n for n in range(51)}},
        {"telegram_id": 9, "tags": ["vip|curso-a"]},
    )
    result = await send(api, body, csv=False)
    assert (result["inserted"], result["rejected"]) == (1, 8)
    reasons = {r["line"]: (r["field"], r["reason"]) for r in result["rejections"]}
    assert reasons[2] == (
        "tags",
        "tag 'VIP' is invalid: use 1–40 characters among a-z, 0-9, _ and -; did you mean 'vip'?",
    )
    assert reasons[3] == ("tags", 'tags must be a list of tags, such as ["vip", "curso-a"]')
    assert reasons[4] == (
        "attributes.plano-x",
        "attribute key 'plano-x' is invalid: use 1–40 of A-Z, a-z, 0-9 and _",
    )
    assert reasons[5] == (
        "attributes.plano",
        "attribute 'plano': a value is text, a number or a boolean (flat, no objects)",
    )
    assert reasons[6] == ("attributes.texto", "attribute 'texto': at most 1000 characters")
    assert reasons[7] == (
        "attributes",
        'attributes must be a JSON object, such as {"plano": "anual"}',
    )
    assert reasons[8] == ("attributes", "a contact holds at most 50 attributes")
    assert reasons[9][0] == "tags"
    assert "tag 'vip|curso-a' is invalid" in reasons[9][1]
    csv_body = "telegram_id,tags,attr.ok,attr.bad key\n10,vip|curso a,,\n11,vip,1,\n12,,,x\n"
    result = await send(api, csv_body, csv=True)
    assert (result["inserted"], result["rejected"]) == (1, 2)
    reasons = {r["line"]: (r["field"], r["reason"]) for r in result["rejections"]}
    assert reasons[2][0] == "tags"
    assert "tag 'curso a' is invalid" in reasons[2][1]
    assert reasons[4] == (
        "attributes.bad key",
        "attribute key 'bad key' is invalid: use 1–40 of A-Z, a-z, 0-9 and _",
    )
    assert await tags(db) == {1: ["vip"], 11: ["vip"]}
    assert await attributes(db) == {1: {"plano": "anual"}, 11: {"ok": "1"}}


async def test_bad_tags_mode_and_csv_attributes_column(api: Client, bot: dict[str, Any]) -> None:
    """An unknown tags_mode is a 422 naming the accepted ones; CSV takes attr.<key>, not
    attributes."""
    answer = await api.request(
        "POST", f"{BASE}/contacts:import?tags_mode=merge", data="telegram_id\n1\n", headers=CSV
    )
    assert answer.status == 422
    assert answer.body["error"]["field"] == "tags_mode"
    assert answer.body["error"]["message"] == "tags_mode must be one of: add, replace"
    answer = await api.request(
        "POST", f"{BASE}/contacts:import", data='telegram_id,attributes\n1,"{}"\n', headers=CSV
    )
    assert (answer.status, answer.body["error"]["field"]) == (422, "attributes")
    assert "attr.<key>" in answer.body["error"]["message"]
    events = await api.request(
        "POST",
        f"{BASE}/events:import",
        data=ndjson({"telegram_id": 1, "event": "visit", "occurred_at": 1764460800}),
        headers=NDJSON,
    )
    assert (events.body["inserted"], events.body["tags_mode"]) == (1, None)


async def test_a_contact_given_twice(api: Client, bot: dict[str, Any], db: Database) -> None:
    """A contact given again, in the same chunk or a later one, applies as if the rows came one
    after the other: tags added up (add) or the later set (replace), attributes merged."""
    filler = [{"telegram_id": 1000 + n} for n in range(CHUNK_LINES)]
    for mode, expected in (("add", ["a", "b", "c", "d"]), ("replace", ["d"])):
        slug_rows = [
            {"telegram_id": 1, "tags": ["a"], "attributes": {"x": 1, "y": 1}},
            {"telegram_id": 1, "tags": ["b"], "attributes": {"x": None, "z": 1}},
            {"telegram_id": 2, "tags": ["c"], "attributes": {"k": "v"}},
            *filler,  # contacts 1 and 2 come again in the next chunk
            {"telegram_id": 1, "tags": ["c"], "attributes": {"y": None, "w": 2}},
            {"telegram_id": 2, "attributes": {"k": None}},
            {"telegram_id": 1, "tags": ["d"]},
        ]
        result = await send(api, ndjson(*slug_rows), csv=False, mode=mode)
        assert result["rejected"] == 0
        stored_tags, stored = await tags(db), await attributes(db)
        assert stored_tags[1] == expected, mode
        assert stored[1] == {"z": 1, "w": 2}, mode
        assert stored[2] is None, mode
    assert stored_tags[2] == ["c"]


async def test_tags_set_by_patch_are_kept_or_replaced(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Tags and attributes set one contact at a time meet an import the same way."""
    await send(api, "telegram_id\n7\n", csv=True)
    answer = await api.patch(
        f"{BASE}/contacts/7", {"add_tags": ["manual"], "attributes": {"plano": "anual"}}
    )
    assert answer.status == 200, answer.body
    await send(api, ndjson({"telegram_id": 7, "tags": ["lote"]}), csv=False)
    assert await tags(db) == {7: ["lote", "manual"]}
    await send(api, "telegram_id,tags,attr.cupom\n7,lote,BF30\n", csv=True, mode="replace")
    assert await tags(db) == {7: ["lote"]}
    answer = await api.patch(f"{BASE}/contacts/7", {})
    assert answer.body["attributes"] == {"plano": "anual", "cupom": "BF30"}
