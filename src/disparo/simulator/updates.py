"""A bot's incoming updates: kept for getUpdates (long polling) or POSTed to its webhook.

Semantics follow the Bot API: update ids increase, an offset confirms every earlier update, a
negative offset keeps only the last updates, getUpdates is refused while a webhook is set, and a
newer getUpdates terminates a waiting one with 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

import orjson

from disparo.simulator.errors import conflict

log = logging.getLogger("disparo.simulator")

# (url, body, headers) -> HTTP status of the webhook's answer
Poster = Callable[[str, bytes, dict[str, str]], Awaitable[int]]

MAX_BACKOFF_S = 5.0
WEBHOOK_ACTIVE = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
TERMINATED = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)


@dataclass(slots=True)
class Webhook:
    """Where and how updates are pushed."""

    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None


class UpdateFeed:
    """Pending updates of one bot, and the task that delivers them to its webhook."""

    def __init__(self, poster: Poster, bot_id: int) -> None:
        self._poster = poster
        self._bot_id = bot_id
        self.pending: deque[dict[str, Any]] = deque()
        self.next_update_id = 1
        self.webhook: Webhook | None = None
        self.allowed_updates: list[str] | None = None
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self.delivered = 0
        self.in_flight = 0
        self._failures = 0
        self._retry_at = 0.0
        self._changed = asyncio.Event()
        self._poll: asyncio.Future[None] | None = None
        self._workers: list[asyncio.Task[None]] = []

    def push(self, body: dict[str, Any]) -> int:
        """Queue one update (its content, without the id); return its update_id."""
        update_id = self.next_update_id
        self.next_update_id += 1
        self.pending.append({"update_id": update_id, **body})
        self._changed.set()
        if self._poll is not None and not self._poll.done():
            self._poll.set_result(None)
        return update_id

    # long polling ------------------------------------------------------------------------

    async def get_updates(
        self, offset: int | None, limit: int, timeout_s: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        """getUpdates: confirm below `offset`, wait up to `timeout_s` for something new."""
        if self.webhook is not None:
            raise conflict(WEBHOOK_ACTIVE)
        if self._poll is not None and not self._poll.done():
            self._poll.set_exception(conflict(TERMINATED))
        if allowed is not None:
            self.allowed_updates = allowed
        self._confirm(offset)
        if not self.pending and timeout_s > 0:
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            self._poll = waiter
            timer = loop.call_later(timeout_s, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                if self._poll is waiter:
                    self._poll = None
            if self.webhook is not None:
                return []
        return list(islice(self.pending, max(1, min(100, limit))))

    def _confirm(self, offset: int | None) -> None:
        pending = self.pending
        if offset is None or offset == 0:
            pass
        elif offset > 0:
            while pending and pending[0]["update_id"] < offset:
                pending.popleft()
        else:
            while len(pending) > -offset:
                pending.popleft()
        if self.allowed_updates:
            allowed = set(self.allowed_updates)
            kept = [u for u in pending if _kind(u) in allowed]
            if len(kept) != len(pending):
                self.pending = deque(kept)

    # webhook ------------------------------------------------------------------------------

    def set_webhook(self, webhook: Webhook, drop_pending: bool) -> None:
        """Start pushing updates to `webhook`."""
        if drop_pending:
            self.pending.clear()
        self.webhook = webhook
        self.allowed_updates = webhook.allowed_updates
        self.last_error_date = self.last_error_message = None
        if self._poll is not None and not self._poll.done():
            self._poll.set_result(None)
        self._stop_workers()
        self._failures, self._retry_at = 0, 0.0
        loop = asyncio.get_running_loop()
        # like Telegram, up to max_connections requests to the webhook at once
        self._workers = [loop.create_task(self._deliver()) for _ in range(webhook.max_connections)]
        self._changed.set()

    def delete_webhook(self, drop_pending: bool) -> None:
        """Stop pushing; updates wait for getUpdates again."""
        if drop_pending:
            self.pending.clear()
        self.webhook = None
        self._stop_workers()

    @property
    def pending_count(self) -> int:
        """Updates not yet confirmed or delivered, those being posted included."""
        return len(self.pending) + self.in_flight

    def info(self) -> dict[str, Any]:
        """A WebhookInfo object."""
        hook = self.webhook
        result: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": self.pending_count,
        }
        if hook is not None:
            result["max_connections"] = hook.max_connections
            result["ip_address"] = "127.0.0.1"
            if hook.allowed_updates is not None:
                result["allowed_updates"] = hook.allowed_updates
        if self.last_error_date is not None:
            result["last_error_date"] = self.last_error_date
            result["last_error_message"] = self.last_error_message
        return result

    def close(self) -> None:
        """Stop the webhook task and release a waiting getUpdates (reset, shutdown)."""
        self.webhook = None
        self._stop_workers()
        if self._poll is not None and not self._poll.done():
            self._poll.set_result(None)

    async def aclose(self) -> None:
        """`close`, then wait for the webhook tasks to finish (shutdown)."""
        workers = self._workers
        self.close()
        await asyncio.gather(*workers, return_exceptions=True)

    def _stop_workers(self) -> None:
        for worker in self._workers:
            worker.cancel()
        self._workers = []

    async def _deliver(self) -> None:
        """One webhook connection: post the oldest update; on failure, back off (whole bot)."""
        loop = asyncio.get_running_loop()
        while self.webhook is not None:
            wait_s = self._retry_at - loop.time()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
                continue
            if not self.pending:
                self._changed.clear()
                await self._changed.wait()
                continue
            hook, update = self.webhook, self.pending.popleft()
            headers = {"Content-Type": "application/json"}
            if hook.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
            self.in_flight += 1
            try:
                error = await self._post(hook.url, orjson.dumps(update), headers)
            except asyncio.CancelledError:
                self.pending.appendleft(update)  # not known to be delivered: keep it
                raise
            finally:
                self.in_flight -= 1
            if error is None:
                self._failures = 0
                self.delivered += 1
                continue
            self.pending.appendleft(update)
            self._failures += 1
            self._retry_at = loop.time() + min(MAX_BACKOFF_S, 0.1 * 2**self._failures)
            self.last_error_date = int(time.time())
            self.last_error_message = error
            log.info("bot %d: webhook delivery failed: %s", self._bot_id, error)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """None on a 2xx answer, else Telegram's wording of what went wrong."""
        try:
            status = await self._poster(url, body, headers)
        except TimeoutError:
            return "Read timeout expired"
        except OSError as error:
            return f"Connection refused ({error.__class__.__name__})"
        except Exception as error:  # the receiver's failure is data, never ours
            return f"Failed to deliver: {error.__class__.__name__}"
        if 200 <= status < 300:
            return None
        return f"Wrong response from the webhook: {status}"


def _resolve(waiter: asyncio.Future[None]) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):
        waiter.set_result(None)


def _kind(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")
