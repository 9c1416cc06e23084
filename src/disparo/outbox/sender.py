"""The delivery loop of outgoing webhooks: claims due events from the outbox and POSTs them,
signed, to their endpoints, a bounded number at a time, trying failed ones again with backoff.

It runs as its own task with its own HTTP session beside the engine; the engine never waits
for it, so a dead or slow receiver costs a broadcast nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson

from disparo import __version__
from disparo.db.engine import Database, is_unavailable
from disparo.db.secrets import SecretKeyError, TokenCipher
from disparo.db.webhooks import DueDelivery, claim_due, record_attempt, release
from disparo.domain.webhooks import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    RETRY_WINDOW,
    SIGNATURE_HEADER,
    excerpt,
    iso,
    next_attempt,
    retry_delay_s,
    sign,
)

log = logging.getLogger("disparo.webhooks")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """How the loop delivers: request timeout, deliveries at once, polling, and backoff."""

    timeout_s: float = 10.0
    concurrency: int = 8
    poll_interval_s: float = 1.0
    retry_base_s: float = 30.0
    retry_max_s: float = 7200.0
    retry_window: timedelta = RETRY_WINDOW
    jitter: tuple[float, float] = (0.8, 1.2)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST came back with."""

    delivered: bool
    status_code: int | None = None
    response: str | None = None
    error: str | None = None


def body_of(delivery: DueDelivery) -> bytes:
    """The JSON body a receiver gets: the same bytes on every attempt."""
    return orjson.dumps(
        {
            "id": delivery.event_id,
            "type": delivery.type,
            "created_at": iso(delivery.created_at),
            "data": delivery.data,
        }
    )


class WebhookSender:
    """Delivers the outbox of this database until stopped."""

    def __init__(
        self,
        db: Database,
        cipher: TokenCipher,
        settings: SenderSettings | None = None,
        *,
        clock: Clock = utc_now,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.settings = settings or SenderSettings()
        self._clock = clock
        self._jitter = jitter
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the loop as a background task until the context is left."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop), name="webhook-sender")
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and deliver until `stop` is set; in-flight deliveries get one timeout to end."""
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.settings.concurrency)
        headers = {"User-Agent": f"Disparo-Webhooks/{__version__}"}
        async with aiohttp.ClientSession(
            timeout=timeout, connector=connector, headers=headers
        ) as session:
            try:
                while not stop.is_set():
                    await self._tick(session)
                    await self._wait(stop)
            finally:
                await self._drain()

    async def _tick(self, session: aiohttp.ClientSession) -> None:
        free = self.settings.concurrency - len(self._in_flight)
        if free <= 0:
            return
        now = self._clock()
        lease = now + timedelta(seconds=self.settings.timeout_s * 2 + 30)
        try:
            claimed = await claim_due(self.db, now=now, locked_until=lease, limit=free)
        except Exception as exc:
            if not is_unavailable(exc):
                log.exception("could not claim webhook deliveries")
            else:
                log.warning("could not claim webhook deliveries: %s", type(exc).__name__)
            return
        for delivery in claimed:
            task = asyncio.create_task(self._deliver(session, delivery), name="webhook-delivery")
            self._in_flight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_freed.set()

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until the next poll, a free slot after a full house, or the stop."""
        self._slot_freed.clear()
        waits = [asyncio.ensure_future(stop.wait())]
        if len(self._in_flight) >= self.settings.concurrency:
            waits.append(asyncio.ensure_future(self._slot_freed.wait()))
        try:
            await asyncio.wait(waits, timeout=self.settings.poll_interval_s,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _drain(self) -> None:
        if not self._in_flight:
            return
        _done, pending = await asyncio.wait(self._in_flight, timeout=self.settings.timeout_s)
        for task in pending:  # their leases run out and another process takes them
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _deliver(self, session: aiohttp.ClientSession, delivery: DueDelivery) -> None:
        try:
            attempt = await self._post(session, delivery)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(release(self.db, [delivery.id]))
            raise
        now = self._clock()
        later = None
        if not attempt.delivered:
            delay = retry_delay_s(
                delivery.attempts + 1,
                base_s=self.settings.retry_base_s,
                max_s=self.settings.retry_max_s,
                jitter=self._jitter(*self.settings.jitter),
            )
            later = next_attempt(delivery.created_at, now, delay, self.settings.retry_window)
        try:
            await record_attempt(
                self.db,
                delivery.id,
                now=now,
                delivered=attempt.delivered,
                next_attempt_at=later,
                status_code=attempt.status_code,
                response=attempt.response,
                error=attempt.error,
            )
        except Exception as exc:  # the lease runs out and the delivery is tried again
            log.warning("could not record a webhook attempt: %s", type(exc).__name__)
            return
        log.info(
            "webhook %s",
            "delivered" if attempt.delivered else ("retried later" if later else "failed"),
            extra={
                "delivery_id": delivery.id,
                "event_id": delivery.event_id,
                "status": attempt.status_code,
            },
        )

    async def _post(self, session: aiohttp.ClientSession, delivery: DueDelivery) -> Attempt:
        try:
            secret = self.cipher.open(delivery.secret)
        except SecretKeyError as exc:
            return Attempt(False, error=f"the endpoint's signing secret cannot be opened: {exc}")
        body = body_of(delivery)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            EVENT_ID_HEADER: delivery.event_id,
            EVENT_TYPE_HEADER: delivery.type,
        }
        try:
            async with session.post(
                delivery.url, data=body, headers=headers, allow_redirects=False
            ) as answer:
                text = excerpt(await answer.content.read(1024))
                return Attempt(200 <= answer.status < 300, answer.status, text)
        except TimeoutError:
            return Attempt(False, error=f"no answer within {self.settings.timeout_s:g} s")
        except aiohttp.ClientError as exc:
            return Attempt(False, error=f"{type(exc).__name__}: {excerpt(str(exc), 200)}")
