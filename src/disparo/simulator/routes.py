"""The simulator's HTTP surface on aiohttp.web: `/bot<token>/<method>` to the Bot API,
`/sim/...` to the control API, Telegram's 404 anywhere else.

Each answer waits out its latency; a dropped request closes the connection without an answer,
as a failing Telegram front end would. Answers carry nginx's `Server` header, like Telegram's.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from disparo.simulator.app import App
from disparo.simulator.control import Control
from disparo.simulator.errors import error_body, not_found
from disparo.simulator.exchange import JSON, Request, Response
from disparo.simulator.world import World

log = logging.getLogger("disparo.simulator")

MAX_BODY_BYTES = 60 * 1024 * 1024  # Telegram takes 50 MB uploads; a little room for framing

_NOT_FOUND = Response(404, not_found().body())
_TOO_LARGE = Response(413, error_body(413, "Request Entity Too Large"))
_SERVER_ERROR = Response(500, error_body(500, "Internal Server Error"))
# nginx names keep-alive on HTTP/1.1 too; aiohttp only says `Connection: close`
_HEADERS = {
    (content_type, keep_alive): {"Server": "nginx/1.18.0", "Content-Type": content_type}
    | ({"Connection": "keep-alive"} if keep_alive else {})
    for content_type in (JSON, "text/html")
    for keep_alive in (True, False)
}


class Routes:
    """The aiohttp handlers over the simulated Telegram of one `World`."""

    def __init__(self, world: World) -> None:
        self._app = App(world)
        self._control = Control(world)

    def application(self) -> web.Application:
        """An aiohttp application serving the Bot API and the control API."""
        application = web.Application(client_max_size=MAX_BODY_BYTES)
        router = application.router
        router.add_route("*", "/bot{token}/{method:.*}", self.bot_api)
        router.add_route("*", "/sim/{what:.*}", self.control)
        router.add_route("*", "/{path:.*}", self.not_found)
        return application

    async def bot_api(self, request: web.Request) -> web.StreamResponse:
        """A Bot API call, answered after its latency (or dropped)."""
        exchange = await _exchange(request)
        if exchange is None:
            return await _send(request, _TOO_LARGE)
        info = request.match_info
        try:
            answer = self._app.bot_api(exchange, info["token"], info["method"])
            if not isinstance(answer, Response):
                answer = await answer
        except Exception:
            log.exception("simulator handler failed")
            answer = _SERVER_ERROR
        return await _send(request, answer)

    async def control(self, request: web.Request) -> web.StreamResponse:
        """A control API call, answered at once."""
        exchange = await _exchange(request)
        if exchange is None:
            return await _send(request, _TOO_LARGE)
        try:
            answer = self._control.handle(exchange)
        except Exception:
            log.exception("simulator control handler failed")
            answer = _SERVER_ERROR
        return await _send(request, answer)

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """Any other path: Telegram's 404."""
        return await _send(request, _NOT_FOUND)


async def _exchange(request: web.Request) -> Request | None:
    """The request as the simulator reads it; None when its body is over the size limit."""
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None
    url = request.rel_url
    # raw: parse_qsl decodes once, and a decoded `&` inside a value would split it
    return Request(request.method, url.raw_path, url.raw_query_string, request.headers, body)


async def _send(request: web.Request, answer: Response) -> web.Response:
    """`answer` after its delay; a drop closes the connection instead."""
    if answer.delay_s > 0:
        await asyncio.sleep(answer.delay_s)
    if answer.drop:
        # closed without a word: aiohttp finds the transport closed and writes nothing
        request.protocol.force_close()
        return web.Response(status=204)
    return web.Response(
        status=answer.status,
        body=answer.body,
        headers=_HEADERS[answer.content_type, request.keep_alive],
    )
