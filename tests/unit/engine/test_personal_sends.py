"""Personal variables in the engine, on the in-memory store and a fake bot: each recipient's
calls are rendered from the values read with its batch, and a copy too long for one recipient
is that recipient's error."""

from __future__ import annotations

from engine_fakes import FakeBot, send_shot, stocked_store

from disparo.domain.statuses import DeliveryStatus
from disparo.domain.variables import ContactValues
from disparo.engine.clock import FakeClock


async def test_each_recipient_is_sent_its_own_copy(clock: FakeClock) -> None:
    store, shot_id = stocked_store(clock, contacts=3)
    store.contacts["loja", 1].values = ContactValues(first_name="<b>Ana</b>")
    store.contacts["loja", 2].values = ContactValues(first_name="Bia", attributes={"n": "x" * 5000})
    store.set_shot(shot_id, copy="Oi {first_name|amigo}! {attr.n}", templated=True)
    bot = FakeBot(clock)
    await send_shot(store, clock, bot)
    texts = {r.chat_id: r.params["text"] for r in bot.written()}
    assert texts == {1: "Oi &lt;b&gt;Ana&lt;/b&gt;! ", 3: "Oi amigo! "}
    by_id = {d.telegram_id: d for d in store.shot_deliveries(shot_id)}
    assert (by_id[2].status, by_id[2].reason) == (DeliveryStatus.ERROR, "too_long")
    assert store.calls["contact_values"] >= 1
