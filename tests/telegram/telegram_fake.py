"""A small real Bot API look-alike (aiohttp.web on 127.0.0.1) whose answers each test scripts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
"""A token of the real shape; tests grep everything the client produces for it."""
SECRET = TOKEN.partition(":")[2]


@dataclass
class Behaviour:
    """How the fake server answers one method."""

    kind: str  # json | raw | hang | drop | delay
    status: int = 200
    payload: Any = None
    body: bytes = b""
    content_type: str = "application/json"
    delay_s: float = 0.0


@dataclass
class Recorded:
    """One request the fake server received."""

    method: str
    token: str
    content_type: str
    params: dict[str, Any]


def _default_result(method: str, message_id: int) -> Any:
    message = {"message_id": message_id, "date": 1_700_000_000, "chat": {"id": 42}}
    if method == "getMe":
        return {"id": 123456789, "is_bot": True, "first_name": "Test", "username": "test_bot"}
    if method == "copyMessage":
        return {"message_id": message_id}
    if method in ("deleteMessage", "setWebhook", "deleteWebhook"):
        return True
    if method == "getUpdates":
        return []
    return message


@dataclass
class FakeTelegram:
    """A real HTTP server answering ``/bot<token>/<method>`` with canned Telegram JSON."""

    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    peers: set[tuple[str, int]] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    def fail(self, method: str, code: int, description: str, **parameters: Any) -> None:
        """Answer ``method`` with Telegram's ``ok:false`` shape."""
        payload: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            payload["parameters"] = parameters
        self.behaviours[method] = Behaviour("json", status=code, payload=payload)

    def raw(self, method: str, status: int, body: bytes, content_type: str = "text/html") -> None:
        """Answer ``method`` with an arbitrary body, e.g. a proxy's HTML error page."""
        self.behaviours[method] = Behaviour("raw", status, body=body, content_type=content_type)

    def hang(self, method: str) -> None:
        """Read the request, then never answer (until the test ends)."""
        self.behaviours[method] = Behaviour("hang")

    def drop(self, method: str) -> None:
        """Read the request, then close the connection without answering."""
        self.behaviours[method] = Behaviour("drop")

    def delay(self, method: str, delay_s: float) -> None:
        """Answer normally after ``delay_s`` seconds."""
        self.behaviours[method] = Behaviour("delay", delay_s=delay_s)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw = await request.read()
        if request.transport is not None:
            self.peers.add(request.transport.get_extra_info("peername"))
        self.requests.append(
            Recorded(
                method=method,
                token=request.match_info["token"],
                content_type=request.headers.get("Content-Type", ""),
                params=orjson.loads(raw) if raw else {},
            )
        )
        behaviour = self.behaviours.get(method, Behaviour("json"))
        if behaviour.kind == "hang":
            await self.release.wait()
        elif behaviour.kind == "drop":
            assert request.transport is not None
            request.transport.close()
        elif behaviour.kind == "delay":
            await asyncio.sleep(behaviour.delay_s)
        elif behaviour.kind == "raw":
            return web.Response(
                status=behaviour.status, body=behaviour.body, content_type=behaviour.content_type
            )
        elif behaviour.payload is not None:
            return web.Response(
                status=behaviour.status,
                body=orjson.dumps(behaviour.payload),
                content_type="application/json",
            )
        result = _default_result(method, len(self.requests))
        return web.Response(body=orjson.dumps({"ok": True, "result": result}))

    async def start(self) -> None:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Free the held handlers and shut the server down."""
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
