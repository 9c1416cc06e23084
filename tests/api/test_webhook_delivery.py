"""The delivery loop of outgoing webhooks against a real receiver: retries with backoff and
one idempotency id, giving up after the retry window, surviving a process that died, and
claims that never overlap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import SECRET_KEY
from cryptography.fernet import Fernet
from sqlalchemy import select
from webhook_receiver import Receiver

from disparo.db.engine import Database
from disparo.db.secrets import SecretKeyError, TokenCipher
from disparo.db.tables_webhooks import webhook_deliveries
from disparo.db.webhook_events import Event, write_events
from disparo.db.webhooks import claim_due, insert_endpoint, reseal_endpoint_secrets
from disparo.domain.webhooks import EventType
from disparo.outbox.sender import SenderSettings, WebhookSender

CIPHER = TokenCipher(SECRET_KEY)
FAST = SenderSettings(timeout_s=2.0, poll_interval_s=0.05, retry_base_s=0.05, retry_max_s=0.2)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def endpoint_for(db: Database, receiver: Receiver) -> int:
    """An endpoint of every bot wanting contact.blocked; the receiver learns its secret."""
    receiver.secret = "whsec_test-secret"
    async with db.write() as conn:
        endpoint = await insert_endpoint(
            conn, CIPHER, url=receiver.url, events="contact.blocked", bot_slug=None,
            secret=receiver.secret, now=datetime.now(UTC),
        )  # fmt: skip
    return endpoint.id


async def write_blocks(db: Database, count: int = 1, *, at: datetime | None = None) -> None:
    """`count` contact.blocked events, written and committed (as a change would write them)."""
    events = [
        Event(EventType.CONTACT_BLOCKED, "loja", {"bot_slug": "loja", "telegram_id": 100 + n})
        for n in range(count)
    ]
    async with db.write() as conn:
        await write_events(conn, events, now=at or datetime.now(UTC))


async def rows(db: Database) -> list[Any]:
    async with db.read() as conn:
        query = select(webhook_deliveries).order_by(webhook_deliveries.c.id)
        return list((await conn.execute(query)).mappings())


async def until(
    db: Database, done: Callable[[list[Any]], bool], timeout_s: float = 10
) -> list[Any]:
    """The outbox rows once `done(rows)` holds."""
    found: list[Any] = []
    for _ in range(int(timeout_s / 0.02)):
        found = await rows(db)
        if done(found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"the outbox never got there: {found}")


def attempted(times: int) -> Callable[[list[Any]], bool]:
    """The first delivery was tried `times` times."""
    return lambda found: bool(found[0]["attempts"] == times)


def sender(db: Database, settings: SenderSettings = FAST, offset_s: float = 0) -> WebhookSender:
    """A sender with no jitter, its clock `offset_s` ahead of now."""
    return WebhookSender(
        db,
        CIPHER,
        settings,
        clock=lambda: datetime.now(UTC) + timedelta(seconds=offset_s),
        jitter=lambda _low, _high: 1.0,
    )


async def test_a_500_is_retried_with_the_same_id_until_a_200(
    db: Database, receiver: Receiver
) -> None:
    """500, 500, then 200: three signed POSTs of the same body id, then delivered."""
    await endpoint_for(db, receiver)
    receiver.statuses = [500, 500]
    await write_blocks(db)
    async with sender(db).running():
        done = await until(db, lambda r: r[0]["status"] == "delivered")
    assert [r.json["id"] for r in receiver.received] == [done[0]["event_id"]] * 3
    assert all(r.verified for r in receiver.received)
    assert {r.headers["Disparo-Event-Id"] for r in receiver.received} == {done[0]["event_id"]}
    assert len({r.body for r in receiver.received}) == 1  # the same bytes each time
    assert (done[0]["attempts"], done[0]["last_status"], done[0]["next_attempt_at"]) == (
        3,
        200,
        None,
    )


async def test_the_backoff_doubles_and_gives_up_after_the_window(
    db: Database, receiver: Receiver
) -> None:
    """A receiver that always answers 500: tried again after base, then 2 × base, ..., and
    failed once the next try would fall past 24 h; each attempt's answer is recorded."""
    await endpoint_for(db, receiver)
    receiver.statuses = [500] * 10
    created = datetime.now(UTC)
    await write_blocks(db, at=created)
    hourly = SenderSettings(poll_interval_s=0.05, retry_base_s=3600, retry_max_s=4 * 3600)
    gaps = []
    for attempt, offset_h in enumerate((0, 1, 3, 7, 11, 15, 19, 23), start=1):
        async with sender(db, hourly, offset_s=offset_h * 3600 + 1).running():
            row = (await until(db, attempted(attempt)))[0]
        if row["next_attempt_at"] is not None:
            gaps.append((row["next_attempt_at"] - row["last_attempt_at"]) / timedelta(hours=1))
    assert gaps == [1, 2, 4, 4, 4, 4, 4]  # doubled, capped at retry_max_s
    assert (row["status"], row["attempts"], row["last_status"]) == ("failed", 8, 500)
    assert row["last_response"] == "receiver is down"
    assert row["next_attempt_at"] is None
    assert len(receiver.received) == 8


async def test_an_event_outlives_the_process_that_wrote_it(db_url: Any, receiver: Receiver) -> None:
    """Written and committed, then the process is gone before any delivery (and another died
    holding a claim): a new process delivers both."""
    first = Database(db_url)
    await endpoint_for(first, receiver)
    await write_blocks(first, 2)
    dead_lease = datetime.now(UTC) + timedelta(minutes=1)
    claimed = await claim_due(first, now=datetime.now(UTC), locked_until=dead_lease, limit=1)
    assert len(claimed) == 1
    await first.dispose()  # the process ends; nothing was delivered

    second = Database(db_url)
    try:
        async with sender(second).running():
            await until(second, lambda r: sum(x["status"] == "delivered" for x in r) == 1)
        async with sender(second, offset_s=120).running():  # past the dead claim's lease
            done = await until(second, lambda r: all(x["status"] == "delivered" for x in r))
    finally:
        await second.dispose()
    assert sorted(r.json["id"] for r in receiver.received) == sorted(x["event_id"] for x in done)


async def test_claims_never_overlap(db: Database, receiver: Receiver) -> None:
    """Two claimers take disjoint deliveries; leased ones are not claimed again."""
    await endpoint_for(db, receiver)
    await write_blocks(db, 10)
    now = datetime.now(UTC)
    lease = now + timedelta(minutes=1)
    a, b = await asyncio.gather(
        claim_due(db, now=now, locked_until=lease, limit=6),
        claim_due(db, now=now, locked_until=lease, limit=6),
    )
    ids_a, ids_b = {d.id for d in a}, {d.id for d in b}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 10
    assert await claim_due(db, now=now, locked_until=lease, limit=10) == []


async def test_a_secret_that_cannot_be_opened_is_recorded_not_raised(
    db: Database, receiver: Receiver
) -> None:
    """A secret sealed with another key: the attempt fails with the reason, and is retried."""
    await endpoint_for(db, receiver)
    await write_blocks(db)
    other = WebhookSender(db, TokenCipher(None), FAST)
    async with other.running():
        row = (await until(db, lambda r: r[0]["attempts"] >= 1))[0]
    assert "DISPARO_SECRET_KEY" in row["last_error"]
    assert row["status"] == "pending"
    assert receiver.received == []


async def test_a_key_rotation_reseals_the_signing_secrets(db: Database, receiver: Receiver) -> None:
    """Resealed with the new key, the secret still signs deliveries the receiver verifies."""
    await endpoint_for(db, receiver)
    new_key = Fernet.generate_key().decode()
    rotating = TokenCipher(new_key, SECRET_KEY)
    async with db.write() as conn:
        assert await reseal_endpoint_secrets(conn, rotating) == 1
    with pytest.raises(SecretKeyError, match="webhook endpoint"):
        async with db.write() as conn:
            await reseal_endpoint_secrets(conn, TokenCipher(Fernet.generate_key().decode()))
    await write_blocks(db)
    async with WebhookSender(db, TokenCipher(new_key), FAST).running():
        await until(db, lambda r: r[0]["status"] == "delivered")
    assert [r.verified for r in receiver.received] == [True]
