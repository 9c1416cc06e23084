"""Constants and the HTTP client the API tests import by name (their fixtures are in conftest)."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from cryptography.fernet import Fernet
from fastapi import FastAPI

ADMIN_TOKEN = "adm1n-t0ken-For-The-Tests-9f8e7d6c"
TOKEN = "123456789:TTHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
OTHER_TOKEN = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw2"
SECRET_KEY = Fernet.generate_key().decode()


@dataclass
class Answer:
    """An HTTP answer of the API: status, decoded body (JSON, else text) and headers."""

    status: int
    body: Any
    headers: dict[str, str]
    text: str


class Client:
    """Talks HTTP to one running server (the API or the simulator)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        token: str | None = ADMIN_TOKEN,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request; the admin token is sent unless `token` is None."""
        sent = dict(headers or {})
        if json is not None:  # encoded here: aiohttp warns about large bodies it encodes
            data = orjson.dumps(json)
            sent.setdefault("Content-Type", "application/json")
        payload = io.BytesIO(data.encode() if isinstance(data, str) else data) if data else None
        if token is not None:
            sent.setdefault("Authorization", f"Bearer {token}")
        async with self.session.request(
            method, self.base_url + path, data=payload, headers=sent
        ) as response:
            text = await response.text()
            body: Any = text
            if response.content_type == "application/json":
                body = await response.json()
            return Answer(response.status, body, dict(response.headers), text)

    async def get(self, path: str, **kw: Any) -> Answer:
        """GET `path`."""
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Answer:
        """POST `path` with a JSON body."""
        return await self.request("POST", path, json=json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> Answer:
        """PATCH `path` with a JSON body."""
        return await self.request("PATCH", path, json=json, **kw)

    async def delete(self, path: str, **kw: Any) -> Answer:
        """DELETE `path`."""
        return await self.request("DELETE", path, **kw)


BuildApp = Callable[..., FastAPI]
Serve = Callable[[FastAPI], Awaitable[Client]]


async def demo_audience(api: Client, telegram_api_url: str, audience: range) -> None:
    """Bot `loja`'s contacts for the demo's A/B shot, imported as started in January; every
    seventh of them (`tid % 7 == 0`) blocked on Telegram's side without the bot being told."""
    contacts = b"".join(
        orjson.dumps({"telegram_id": tid, "started_at": "2026-01-05T10:00:00Z"}) + b"\n"
        for tid in audience
    )
    imported = await api.request(
        "POST",
        "/admin/api/bots/loja/contacts:import",
        data=contacts,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert imported.body["inserted"] == len(audience), imported.body
    blocked = [{"id": tid, "state": "blocked"} for tid in audience if tid % 7 == 0]
    sim = Client(telegram_api_url, api.session)
    assert (await sim.post(f"/sim/bots/{TOKEN}/users", blocked, token=None)).status == 200
