"""Click tracking end to end: the engine sends URL buttons through the redirect, a recipient's
click answers 302 to the stored URL and is counted, anything else is a plain 404; the bot's
report and its CSV show what happened; without a public URL or with tracking off, buttons go
out untouched."""

from __future__ import annotations

import csv
import io
from typing import Any

import aiohttp
from api_support import TOKEN, BuildApp, Client, Serve
from test_flow import wait_until

from disparo.config import Settings
from disparo.db.engine import Database
from disparo.services import engine_background

USERS = [101, 102, 103]
BUTTONS = [
    [{"text": "Pagar", "url": "https://pay.example/checkout?u={first_name|x}"}],
    [{"text": "Canal", "url": "https://t.me/loja"}],
]


async def _sent_shot(api: Client, sim: Client, **fields: Any) -> tuple[int, list[Any]]:
    """A shot with two URL buttons sent to USERS; its id and the messages the users got."""
    await sim.post(
        f"/sim/bots/{TOKEN}/users",
        [{"id": u, "first_name": f"U{u}"} for u in USERS],
        token=None,
    )
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"start": USERS}, token=None)
    await wait_until(api, "/admin/api/bots/loja/metrics", lambda m: m["active"] == len(USERS))
    body = {"bot_slug": "loja", "target": "started", "copy": "Oferta", "buttons": BUTTONS, **fields}
    created = await api.post("/admin/api/shots", body)
    assert created.status == 201, created.body
    shot_id = created.body["id"]
    await wait_until(api, f"/admin/api/shots/{shot_id}/stats", lambda s: s["status"] == "sent")
    messages = (await sim.get(f"/sim/bots/{TOKEN}/messages", token=None)).body["result"]
    return shot_id, messages


def _chat(message: Any) -> int:
    return int(message["chat_id"] if "chat_id" in message else message["chat"]["id"])


def _urls(message: Any) -> list[str]:
    return [b["url"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def _follow(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    """Status, Location and page of a tracked link (never cached, no Referer passed on)."""
    async with session.get(url, allow_redirects=False) as answer:
        if "/r/" in url and url.rsplit("/r/", 1)[1]:  # a code (a bare /r/ is no route at all)
            assert answer.headers["Cache-Control"] == "no-store"
            assert answer.headers["Referrer-Policy"] == "no-referrer"
        return answer.status, answer.headers.get("Location", ""), await answer.text()


async def test_clicks_are_redirected_counted_and_reported(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database, settings: Settings
) -> None:
    api = await serve(build_app(background=[engine_background(settings, db)]))
    assert (await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})).status == 201
    assert (await api.post("/admin/api/bots/loja/webhook")).status == 200
    shot_id, messages = await _sent_shot(api, sim)
    by_user = {_chat(m): _urls(m) for m in messages}
    assert sorted(by_user) == USERS
    public = f"{settings.public_url}/r/"
    assert all(url.startswith(public) for urls in by_user.values() for url in urls)
    assert len({url for urls in by_user.values() for url in urls}) == 6  # one code per link

    session = api.session
    # 101 pays (twice) and opens the channel; 102 pays once; 103 never clicks.
    for user, link in ((101, 0), (101, 0), (101, 1), (102, 0)):
        status, location, _ = await _follow(session, by_user[user][link])
        assert status == 302
        expected = f"https://pay.example/checkout?u=U{user}" if link == 0 else "https://t.me/loja"
        assert location == expected
    # A changed code, an unknown one, and a link number the message never had: a plain 404.
    code = by_user[101][0].rsplit("/", 1)[1]
    tampered = code[:-1] + ("A" if code[-1] != "A" else "B")
    for url in (public + tampered, public + "nada", f"{settings.public_url}/r/"):
        status, location, page = await _follow(session, url)
        assert (status, location) == (404, "")
        if url.endswith("/r/"):
            continue
        assert "Link não encontrado" in page

    def counted(report: Any) -> bool:
        return bool(report["totals"]["clicks"] == 4)

    report = await wait_until(api, "/admin/api/bots/loja/report", counted)
    totals = report["totals"]
    assert (totals["recipients"], totals["delivered"], totals["clicks"], totals["clicked"]) == (
        3, 3, 4, 2,
    )  # fmt: skip
    assert totals["click_rate"] == 2 / 3
    assert report["tracking"] == {"enabled": True, "reason": None}
    [shot] = report["shots"]
    assert (shot["id"], shot["audience"], shot["delivered"], shot["clicked"]) == (shot_id, 3, 3, 2)

    exported = await api.get("/admin/api/bots/loja/report.csv?table=shots")
    assert exported.status == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert (row["id"], row["delivered"], row["clicked"]) == (str(shot_id), "3", "2")
    days = list(csv.DictReader(io.StringIO((await api.get(
        "/admin/api/bots/loja/report.csv?table=days"
    )).text)))  # fmt: skip
    assert len(days) == 30
    assert sum(int(d["clicks"]) for d in days) == 4


async def test_a_shot_with_tracking_off_sends_its_own_urls(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database, settings: Settings
) -> None:
    api = await serve(build_app(background=[engine_background(settings, db)]))
    assert (await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})).status == 201
    assert (await api.post("/admin/api/bots/loja/webhook")).status == 200
    shot_id, messages = await _sent_shot(api, sim, track_clicks=False)
    assert (await api.get(f"/admin/api/shots/{shot_id}")).body["track_clicks"] is False
    for message in messages:
        user = _chat(message)
        assert _urls(message) == [f"https://pay.example/checkout?u=U{user}", "https://t.me/loja"]


async def test_without_a_public_url_buttons_are_untouched_and_the_report_says_why(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database, settings: Settings
) -> None:
    local = settings.model_copy(update={"public_url": None})
    api = await serve(build_app(settings=local, background=[engine_background(local, db)]))
    assert (await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})).status == 201
    assert (await api.patch("/admin/api/bots/loja", {"polling": True})).status == 200
    _, messages = await _sent_shot(api, sim)
    assert all(not url.startswith("http://127.0.0.1") for m in messages for url in _urls(m))
    report = (await api.get("/admin/api/bots/loja/report")).body
    assert report["tracking"]["enabled"] is False
    assert "DISPARO_PUBLIC_URL" in report["tracking"]["reason"]
    status, _, _ = await _follow(api.session, f"{api.base_url}/r/whatever")
    assert status == 404


async def test_report_parameters_are_checked(api: Client, bot: dict[str, Any]) -> None:
    """A period backwards, over a year, an unknown zone or table, an unknown bot: clear errors."""
    cases = {
        "/admin/api/bots/loja/report?from=2026-12-02&to=2026-12-01": ("from", "after"),
        "/admin/api/bots/loja/report?from=2025-01-01&to=2026-12-01": ("from", "at most 366"),
        "/admin/api/bots/loja/report?tz=Mars/Olympus": ("tz", "IANA"),
        "/admin/api/bots/loja/report?tz=America": ("tz", "IANA"),
        "/admin/api/bots/loja/report?to=0001-01-05": ("to", "from 2000-01-01"),
        "/admin/api/bots/loja/report?from=9999-12-31&to=9999-12-31": ("from", "to 2999-12-31"),
        "/admin/api/bots/loja/report.csv?table=nope": ("table", ""),
    }
    for path, (field, words) in cases.items():
        answer = await api.get(path)
        assert answer.status == 422, (path, answer.body)
        assert answer.body["error"]["field"] == field
        assert words in answer.body["error"]["message"]
    assert (await api.get("/admin/api/bots/nobody/report")).status == 404
    ok = await api.get("/admin/api/bots/loja/report?from=2026-11-01&to=2026-11-30&tz=UTC")
    assert ok.status == 200
    assert (ok.body["from"], ok.body["to"], ok.body["timezone"]) == (
        "2026-11-01",
        "2026-11-30",
        "UTC",
    )
    assert len(ok.body["days"]) == 30
    assert ok.body["totals"]["delivered"] == 0
