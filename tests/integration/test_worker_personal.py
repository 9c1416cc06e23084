"""Personal variables through a real worker and the simulator over HTTP, on both databases:
each chat receives its own contact's values (a hostile name arrives as text), a recipient whose
copy grows past Telegram's limit gets error too_long and the shot goes on, and a shot without
variables sends its braces written once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, update
from worker_support import (
    NOW,
    Sim,
    StartWorker,
    add_bot,
    add_contacts,
    add_shot,
    deliveries,
    set_shot,
    wait_for_status,
)

from disparo.db.engine import Database
from disparo.db.tables import contact_tags, payment_transactions, telegram_contacts

FINAL = ("sent", "skipped", "error", "cancelled", "expired")
NAMES = {
    1: "Ana",
    2: "<b>Bia</b> & Cia",
    3: "</i><a href='x'>João",
    4: None,
    5: "Zé 😀",
}


async def set_contact(db: Database, telegram_id: int, **values: Any) -> None:
    async with db.write() as conn:
        await conn.execute(
            update(telegram_contacts)
            .where(telegram_contacts.c.bot_slug == "loja")
            .where(telegram_contacts.c.telegram_id == telegram_id)
            .values(**values)
        )


async def test_each_chat_gets_its_own_values(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """Names, amounts, tags, attributes and a button URL, per recipient, escaped."""
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", NAMES)
    for telegram_id, name in NAMES.items():
        await set_contact(db, telegram_id, first_name=name, attributes={"plano": f"p{telegram_id}"})
    async with db.write() as conn:
        await conn.execute(
            insert(payment_transactions),
            [
                {"bot_slug": "loja", "telegram_id": 2, "external_id": "a", "status": "created"}
                | {"amount_cents": 4990, "created_at": NOW - timedelta(hours=1)},
                {"bot_slug": "loja", "telegram_id": 2, "external_id": "b", "status": "paid"}
                | {"amount_cents": 123456, "created_at": NOW - timedelta(days=2)},
            ],
        )
        await conn.execute(insert(contact_tags).values(bot_slug="loja", telegram_id=1, tag="vip"))
    copy = "Oi <b>{first_name|amigo}</b>! PIX {last_pix_amount|-} {tags|sem tags} {attr.plano}"
    buttons = [[{"text": "Pagar", "url": "https://x.example/pix?n={first_name}"}]]
    shot_id = await add_shot(db, "loja", copy=copy, buttons=buttons, wake=True)
    await set_shot(db, shot_id, templated=True)
    await start_worker()
    assert (await wait_for_status(db, shot_id, FINAL))["status"] == "sent"
    messages = {m["chat_id"]: m for m in await sim.messages(token)}
    assert messages[1]["text"] == "Oi Ana! PIX - vip p1"
    assert messages[2]["text"] == "Oi <b>Bia</b> & Cia! PIX R$ 49,90 sem tags p2"
    assert messages[3]["text"] == "Oi </i><a href='x'>João! PIX - sem tags p3"
    assert messages[4]["text"] == "Oi amigo! PIX - sem tags p4"
    assert messages[5]["text"] == "Oi Zé 😀! PIX - sem tags p5"
    url = messages[2]["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert url == "https://x.example/pix?n=%3Cb%3EBia%3C%2Fb%3E%20%26%20Cia"
    assert len(messages) == 5


async def test_a_copy_too_long_for_one_recipient_is_its_error_only(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """Recipient 2's attribute pushes the caption past 1024: error too_long, nothing sent to
    it, the others get theirs and the shot ends sent."""
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", [1, 2, 3])
    await set_contact(db, 2, attributes={"nota": "y" * 100})
    await set_contact(db, 1, attributes={"nota": "curta"})
    shot_id = await add_shot(
        db,
        "loja",
        copy="x" * 1000 + "{attr.nota}",
        media_type="photo",
        media_url="https://x.example/a.jpg",
        wake=True,
    )
    await set_shot(db, shot_id, templated=True)
    await start_worker()
    assert (await wait_for_status(db, shot_id, FINAL))["status"] == "sent"
    rows = {r["telegram_id"]: r for r in await deliveries(db, shot_id)}
    assert (rows[2]["status"], rows[2]["reason"]) == ("error", "too_long")
    assert "1100 characters" in rows[2]["error"]
    assert (rows[1]["status"], rows[3]["status"]) == ("sent", "sent")
    assert sorted(m["chat_id"] for m in await sim.messages(token)) == [1, 3]


async def test_a_shot_without_variables_writes_its_braces_once(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """Templated but not personal: {{ }} become braces; an older shot is sent as stored."""
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", [1])
    templated = await add_shot(db, "loja", copy="Cupom {{BF30}}", wake=True)
    await set_shot(db, templated, templated=True)
    await start_worker()
    assert (await wait_for_status(db, templated, FINAL))["status"] == "sent"
    legacy = await add_shot(db, "loja", copy="Cupom {{BF30}}", wake=True)
    assert (await wait_for_status(db, legacy, FINAL))["status"] == "sent"
    texts = [m["text"] for m in await sim.messages(token)]
    assert texts == ["Cupom {BF30}", "Cupom {{BF30}}"]
