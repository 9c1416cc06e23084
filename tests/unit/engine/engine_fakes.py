"""Telegram for the engine's unit tests: an in-process bot that answers after a latency on the
fake clock, records every request, and fails the ones a test's rule picks; plus scene helpers.

Only what the sender calls (`call`) is modelled; the integration tests use the real simulator
over HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from disparo.db.leases import ClaimedShot
from disparo.engine.clock import FakeClock
from disparo.engine.finalize import Settler
from disparo.engine.memory_store import MemoryShotStore
from disparo.engine.metrics import engine_metrics
from disparo.engine.recorder import OutcomeRecorder
from disparo.engine.sender import ShotSender
from disparo.engine.worker import Worker, WorkerSettings
from disparo.telegram import (
    MalformedTokenError,
    MaybeDeliveredError,
    NotDeliveredError,
    TelegramAPIError,
)

TOKEN = "7000000001:" + "T" * 35
WORKER = "w1"
LEASE_S = 30.0


@dataclass(slots=True)
class Request:
    """One request the bot received: its order, method, chat, and when it was written."""

    n: int
    method: str
    chat_id: int
    params: dict[str, Any]
    at: float  # fake monotonic time the request was written (or refused a connection)
    in_flight: int = 0  # requests of the bot already in flight when this one was written
    written: bool = True  # False: no connection, the request never left
    answered_at: float | None = None
    failed: str | None = None  # the failure's class name, None when it succeeded


# A rule sees each request before it is answered and may return the failure to answer with.
Rule = Callable[[Request], Exception | None]


def too_many_requests(retry_after: int) -> TelegramAPIError:
    """429 with retry_after."""
    return _api(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def server_error(code: int = 502, description: str = "Bad Gateway") -> TelegramAPIError:
    """A 5xx."""
    return _api(code, description)


def blocked() -> TelegramAPIError:
    """403: the user blocked the bot."""
    return _api(403, "Forbidden: bot was blocked by the user")


def deactivated() -> TelegramAPIError:
    """403: the user deleted their account."""
    return _api(403, "Forbidden: user is deactivated")


def chat_not_found() -> TelegramAPIError:
    """400: unknown chat."""
    return _api(400, "Bad Request: chat not found")


def bad_html() -> TelegramAPIError:
    """400: the copy's HTML does not parse (a content error)."""
    return _api(400, "Bad Request: can't parse entities: unclosed start tag at byte offset 0")


def revoked() -> TelegramAPIError:
    """401: the token was revoked."""
    return _api(401, "Unauthorized")


def no_connection() -> NotDeliveredError:
    """No connection could be made: the request never left."""
    return NotDeliveredError("sendMessage on fake: could not connect; the request was not sent")


def no_answer() -> MaybeDeliveredError:
    """Sent, then no answer in time: delivery unknown."""
    return MaybeDeliveredError("sendMessage on fake: the request was sent but no answer came")


def _api(code: int, description: str, *, retry_after: int | None = None) -> TelegramAPIError:
    return TelegramAPIError(
        method="sendMessage",
        host="fake",
        error_code=code,
        description=description,
        retry_after=retry_after,
    )


class FakeBot:
    """One bot's Bot API: answers each request `latency_s` after it was written (a request that
    gets no answer only after `timeout_s`), a refused connection at once and never written."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        latency_s: float = 0.05,
        timeout_s: float = 10.0,
        rule: Rule | None = None,
        on_request: Callable[[Request], None] | None = None,
    ) -> None:
        self.clock = clock
        self.latency_s = latency_s
        self.timeout_s = timeout_s
        self.rule = rule
        self.on_request = on_request
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._message_ids = itertools.count(1)

    async def call(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        on_write: Callable[[], object] | None = None,
    ) -> Any:
        """Answer as the rule says: Telegram's `result`, or raise the failure."""
        chat_id, now = int(params["chat_id"]), self.clock.monotonic()
        request = Request(len(self.requests) + 1, method, chat_id, dict(params), now)
        request.in_flight = self.in_flight
        self.requests.append(request)
        failure = self.rule(request) if self.rule is not None else None
        if isinstance(failure, NotDeliveredError):
            request.written, request.answered_at = False, now
            request.failed = type(failure).__name__
            raise failure
        if on_write is not None:
            on_write()
        if self.on_request is not None:
            self.on_request(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            silent = isinstance(failure, MaybeDeliveredError)
            await asyncio.sleep(self.timeout_s if silent else self.latency_s)
        finally:
            self.in_flight -= 1
            request.answered_at = self.clock.monotonic()
        if failure is not None:
            request.failed = type(failure).__name__
            raise failure
        return {"message_id": next(self._message_ids), "chat": {"id": request.chat_id}}

    def delivered(self) -> Counter[int]:
        """Messages delivered per chat (every method counts)."""
        return Counter(r.chat_id for r in self.requests if r.failed is None)

    def written(self) -> list[Request]:
        """The requests that left (a refused connection sends nothing)."""
        return [r for r in self.requests if r.written]

    def to(self, chat_id: int) -> list[Request]:
        """The requests to one chat, in order."""
        return [r for r in self.requests if r.chat_id == chat_id]


@dataclass
class FakeBots:
    """Hands out the fake bot of each token (a `BotFactory`)."""

    by_token: dict[str, FakeBot] = field(default_factory=dict)

    def bot(self, token: str) -> FakeBot:
        """The token's bot; MalformedTokenError for any other token."""
        try:
            return self.by_token[token]
        except KeyError:
            raise MalformedTokenError("a bot token must look like '<bot id>:<secret>'") from None


def stocked_store(
    clock: FakeClock, *, contacts: int, rate_per_s: int = 25, paid_broadcast: bool = False
) -> tuple[MemoryShotStore, int]:
    """A store with bot `loja`, `contacts` active contacts (ids 1..n, hottest first) and one
    shot due now; the shot's id."""
    store = MemoryShotStore()
    store.add_bot("loja", TOKEN, rate_per_s=rate_per_s, paid_broadcast=paid_broadcast)
    for telegram_id in range(1, contacts + 1):
        store.add_contacts("loja", [telegram_id], last_interaction_at=clock.now())
    shot_id = store.add_shot("loja", scheduled_at=clock.now())
    return store, shot_id


class AlwaysLeased:
    """A lease view that never runs out (the lease keeper is tested on its own)."""

    def valid(self, shot_id: int) -> bool:
        return True


async def claimed(store: MemoryShotStore, clock: FakeClock) -> ClaimedShot:
    """Claim the due shot as worker `w1`."""
    now = clock.now()
    shot = await store.claim_due_shot(
        worker_id=WORKER, now=now, lease_expires_at=now + timedelta(seconds=LEASE_S)
    )
    assert shot is not None
    return shot


async def send_shot(
    store: MemoryShotStore,
    clock: FakeClock,
    bot: FakeBot,
    *,
    rate_per_s: float = 25.0,
    shot: ClaimedShot | None = None,
    **options: Any,
) -> ShotSender:
    """Claim the due shot (unless `shot` was claimed already) and run one sender over it to its
    end (`options` go to the sender); the sender."""
    shot = shot or await claimed(store, clock)
    recorder = OutcomeRecorder(store, clock)
    settler = Settler(store, recorder, clock, WORKER, engine_metrics())
    sender = ShotSender(
        settler,
        bot,
        shot,
        rate_per_s=rate_per_s,
        paid_broadcast=False,
        lease=AlwaysLeased(),
        **options,
    )
    await sender.run()
    return sender


async def until(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    within_s: float = 120.0,
    step_s: float = 0.01,
    what: str = "the condition",
) -> None:
    """Wait, on the fake clock, until `condition` holds (at most `within_s` fake seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        result = condition()
        if result if isinstance(result, bool) else await result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {within_s} s of fake time")
        await asyncio.sleep(step_s)


@asynccontextmanager
async def running_worker(
    store: MemoryShotStore,
    bots: FakeBots,
    clock: FakeClock,
    *,
    worker_id: str = WORKER,
    stop: asyncio.Event | None = None,
    **settings: Any,
) -> AsyncIterator[Worker]:
    """A worker on the memory store and the fake bots until the block ends (or `stop` is set:
    what SIGTERM does); it is then stopped cleanly."""
    stop = stop or asyncio.Event()
    config = WorkerSettings(**{"lease_s": LEASE_S, **settings})
    worker = Worker(store, bots, settings=config, clock=clock, worker_id=worker_id)
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await task
