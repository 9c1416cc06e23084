"""A small real Bot API look-alike (aiohttp.web on 127.0.0.1) whose answers each test scripts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from disparo.telegram import BotAPI
from disparo.telegram import errors as e

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
    received: asyncio.Event = field(default_factory=asyncio.Event)
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
        self.received.set()
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

    async def start(self, keepalive_timeout_s: float = 75.0) -> None:
        """Serve on a free port of 127.0.0.1, closing connections idle for the given time."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(
            app, keepalive_timeout=keepalive_timeout_s, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Free the held handlers and shut the server down; idempotent."""
        self.release.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


# Scenario name -> the exception class the call must raise (None: it must succeed).
SCENARIOS: dict[str, type[BaseException] | None] = {
    "ok": None,
    "400": e.BadRequest,
    "400-migrated": e.BadRequest,
    "401": e.Unauthorized,
    "403": e.Forbidden,
    "404": e.NotFound,
    "409": e.Conflict,
    "429": e.TooManyRequests,
    "418": e.TelegramAPIError,
    "500": e.ServerError,
    "502-html": e.ServerError,
    "404-html": e.NotFound,
    "200-not-json": e.MaybeDeliveredError,
    "200-no-ok": e.MaybeDeliveredError,
    "refused": e.NotDeliveredError,
    "timeout-after-send": e.MaybeDeliveredError,
    "dropped-after-read": e.MaybeDeliveredError,
    "pool-wait-timeout": e.NotDeliveredError,
}


def script(fake: FakeTelegram, scenario: str) -> None:
    """Make the fake server answer sendMessage the way ``scenario`` needs."""
    method = "sendMessage"
    answers: dict[str, tuple[int, str, dict[str, Any]]] = {
        "400": (400, "Bad Request: chat not found", {}),
        "400-migrated": (
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": -1001234567890},
        ),
        "401": (401, "Unauthorized", {}),
        "403": (403, "Forbidden: bot was blocked by the user", {}),
        "404": (404, "Not Found", {}),
        "409": (409, "Conflict: terminated by other getUpdates request", {}),
        "429": (429, "Too Many Requests: retry after 7", {"retry_after": 7}),
        "418": (418, "I'm a teapot", {}),
        "500": (500, "Internal Server Error", {}),
    }
    if scenario in answers:
        code, description, parameters = answers[scenario]
        fake.fail(method, code, description, **parameters)
    elif scenario == "502-html":
        fake.raw(method, 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    elif scenario == "404-html":
        fake.raw(method, 404, f"<html>no /bot{TOKEN}/sendMessage here</html>".encode())
    elif scenario == "200-not-json":
        fake.raw(method, 200, b'{"ok": true, "result": {"message_id"', "application/json")
    elif scenario == "200-no-ok":
        fake.raw(method, 200, b'{"result": {"message_id": 1}}', "application/json")
    elif scenario in ("timeout-after-send", "pool-wait-timeout"):
        fake.hang(method)
    elif scenario == "dropped-after-read":
        fake.drop(method)


async def provoke(fake: FakeTelegram, scenario: str, closed_port: int) -> BaseException | None:
    """Run one sendMessage under ``scenario`` with a fresh client; return what it raised."""
    script(fake, scenario)
    base_url = f"http://127.0.0.1:{closed_port}" if scenario == "refused" else fake.base_url
    limit = 1 if scenario == "pool-wait-timeout" else 100
    async with BotAPI(base_url, timeout_s=0.5, connect_timeout_s=0.2, limit=limit) as api:
        bot = api.bot(TOKEN)
        holder = None
        if scenario == "pool-wait-timeout":
            # Hold the only pooled connection with a request the server never answers.
            holder = asyncio.create_task(bot.send_message(1, "holder"))
            await fake.received.wait()
        try:
            await bot.send_message(42, "<b>hello</b>")
        except Exception as exc:  # the caller inspects whatever was raised
            return exc
        finally:
            if holder is not None:
                await asyncio.gather(holder, return_exceptions=True)
    return None
