"""A webhook receiver for the tests: a real aiohttp server on 127.0.0.1 that checks every
delivery's signature the way docs/api.md tells receivers to, and answers as told."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

TOLERANCE_S = 300


def verify(secret: str, header: str, body: bytes, tolerance_s: int = TOLERANCE_S) -> bool:
    """The verification snippet of docs/api.md (Python), line for line."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - timestamp) <= tolerance_s
    return fresh and hmac.compare_digest(expected, parts["v1"])


@dataclass
class Received:
    """One POST as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """Records deliveries; answers each with the next of `statuses` (then 200), or hangs."""

    secret: str = ""
    statuses: list[int] = field(default_factory=list)
    hang_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    released: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self.url

    async def stop(self) -> None:
        self.released.set()  # hanging answers end now
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        signature = request.headers.get("Disparo-Signature", "")
        verified = bool(self.secret) and verify(self.secret, signature, body)
        self.received.append(Received(dict(request.headers), body, time.monotonic(), verified))
        self.arrived.set()
        if self.hang_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), self.hang_s)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "receiver is down")

    def of_type(self, event_type: str) -> list[Any]:
        """The bodies of the deliveries of one event type, in arrival order."""
        return [r.json for r in self.received if r.json["type"] == event_type]

    async def wait_for(self, done: Any, timeout_s: float = 15.0) -> None:
        """Until `done(self)` holds."""
        async with asyncio.timeout(timeout_s):
            while not done(self):
                self.arrived.clear()
                await self.arrived.wait()
