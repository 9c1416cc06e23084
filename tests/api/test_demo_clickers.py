"""The demo's simulated clickers against a real API, worker and simulator: after the demo's A/B
shot, the clicks (GET /r/{code}) and replies (a message through the simulator and the webhook)
recorded match the planted shares per variant, and the bot's report shows them."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from api_support import ADMIN_TOKEN, TOKEN, BuildApp, Serve, demo_audience
from scipy import stats
from sqlalchemy import text

from disparo.config import Settings
from disparo.db.engine import Database
from disparo.demo.buyers import PLANTED, Delays, draw, start_ab_test
from disparo.demo.clickers import Clickers
from disparo.demo.reactions import (
    BUYERS_CLICK,
    HOUR_FACTORS,
    OTHER_CLICK,
    OTHER_REPLY,
    PLANTED_RESPONSES,
    ResponseDelays,
    at_hour,
    others_click,
    shot_responses,
)
from disparo.services import engine_background

AUDIENCE = range(7001, 7601)
SEED = "test-clickers"
ZONE = "America/Sao_Paulo"
DELAYS = Delays(pix_s=(0.05, 0.5), pay_s=(0.1, 0.5))
RESPONSE_DELAYS = ResponseDelays(click_s=(0.05, 1.0), reply_s=(0.05, 1.0))
# A planted share is met when the count falls inside its central 99.9 % binomial interval.
CONFIDENCE = 0.999


def test_planted_shares_leave_room_for_the_buyers_at_every_hour() -> None:
    """Each variant's click share covers BUYERS_CLICK of its buyers at every hour, so the share
    of the others is never clipped and the variant clicks exactly at its planted share."""
    for name, responses in PLANTED_RESPONSES.items():
        for hour in range(24):
            click = at_hour(responses, hour).click
            assert BUYERS_CLICK * PLANTED[name].pix < click < 1
            others = others_click(click, PLANTED[name].pix)
            mixed = BUYERS_CLICK * PLANTED[name].pix + (1 - PLANTED[name].pix) * others
            assert abs(mixed - click) < 1e-12
    assert max(HOUR_FACTORS) > 1 > min(HOUR_FACTORS)


def test_other_shots_get_their_own_shares() -> None:
    """A shot the operator sends has shares of its own per variant, within the stated ranges."""
    drawn = {shot_responses(shot, group) for shot in range(2, 12) for group in ("", "A")}
    assert len(drawn) == 20
    assert all(OTHER_CLICK[0] <= r.click <= OTHER_CLICK[1] for r in drawn)
    assert all(OTHER_REPLY[0] <= r.reply <= OTHER_REPLY[1] for r in drawn)
    assert shot_responses(3, "A") == shot_responses(3, "A")


def _inside(count: int, n: int, share: float) -> bool:
    low, high = stats.binom.interval(CONFIDENCE, n, share)
    return bool(low <= count <= high)


async def _responders(db: Database, shot_id: int, kind: str) -> set[int]:
    query = text("SELECT telegram_id FROM shot_responses WHERE shot_id = :shot AND kind = :kind")
    async with db.read() as conn:
        rows = await conn.execute(query, {"shot": shot_id, "kind": kind})
        return {int(tid) for (tid,) in rows}


async def test_clickers_click_and_reply_at_the_planted_shares(
    build_app: BuildApp, serve: Serve, db: Database, settings: Settings
) -> None:
    """Every planned click lands (one GET each, answered 302) and every planned reply reaches
    the webhook; per variant, the recipients who clicked and who replied fall within the
    binomial interval of the planted shares, buyers mostly click, the holdout and the
    unreached do nothing, and the bot's report counts the clicks and replies."""
    api = await serve(build_app(background=[engine_background(settings, db)]))
    bot = {
        "slug": "loja",
        "token": TOKEN,
        "rate_per_s": 1000,
        "paid_broadcast": True,
        "timezone": ZONE,
    }
    assert (await api.post("/admin/api/bots", bot)).status == 201
    assert (await api.post("/admin/api/bots/loja/webhook")).status == 200  # replies come by it
    await demo_audience(api, settings.telegram_api_url, AUDIENCE)

    shot_id = await start_ab_test(api.base_url, ADMIN_TOKEN, "loja")
    for _ in range(400):  # the clickers follow shots that have started
        if (await api.get(f"/admin/api/shots/{shot_id}")).body["started_at"]:
            break
        await asyncio.sleep(0.05)
    clickers = Clickers(
        api.session, api.base_url, settings.telegram_api_url, ADMIN_TOKEN, "loja", TOKEN,
        buyers_shot=shot_id, seed=SEED, delays=DELAYS, response_delays=RESPONSE_DELAYS,
    )  # fmt: skip

    for _ in range(300):  # until the shot has ended and everyone planned has acted
        if not await clickers.step():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"clickers still acting after 30 s: {clickers.shots}")
    [followed] = clickers.shots.values()
    planned = [r for r in followed.planned.values() if r is not None]
    will_click = {r.telegram_id for r in planned if r.click_at is not None}
    will_reply = {r.telegram_id for r in planned if r.reply_at is not None}
    assert followed.clicked == will_click
    assert followed.replied == will_reply

    for _ in range(100):  # clicks are written every 0.25 s; replies come by webhook
        clicked = await _responders(db, shot_id, "click")
        replied = await _responders(db, shot_id, "reply")
        if (clicked, replied) == (will_click, will_reply):
            break
        await asyncio.sleep(0.1)
    assert clicked == will_click
    assert replied == will_reply
    async with db.read() as conn:
        clicks = (await conn.execute(text("SELECT count(*) FROM shot_clicks"))).scalar()
    assert clicks == len(will_click)  # one GET each

    exported = await api.get(f"/admin/api/shots/{shot_id}/conversions.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == len(AUDIENCE)
    delivered: Counter[str] = Counter()
    expected_click: defaultdict[str, float] = defaultdict(float)  # sums of the shares
    expected_reply: defaultdict[str, float] = defaultdict(float)
    clicks_of: Counter[str] = Counter()
    replies_of: Counter[str] = Counter()
    buyers = buyers_clicking = 0
    for row in rows:
        tid, group = int(row["telegram_id"]), row["group"]
        if row["status"] != "sent":  # the holdout and the unreached read nothing
            assert tid not in clicked | replied, row
            continue
        hour = datetime.fromisoformat(row["reached_at"]).astimezone(ZoneInfo(ZONE)).hour
        shares = at_hour(PLANTED_RESPONSES[group], hour)
        delivered[group] += 1
        expected_click[group] += shares.click
        expected_reply[group] += shares.reply
        clicks_of[group] += tid in clicked
        replies_of[group] += tid in replied
        if draw(SEED, tid, "buy") < PLANTED[group].pix:
            buyers += 1
            buyers_clicking += tid in clicked
    assert set(delivered) == {"A", "B"}
    for group, n in delivered.items():  # one hour at most apart: the mean share is the share
        click, reply = expected_click[group] / n, expected_reply[group] / n
        assert _inside(clicks_of[group], n, click), (group, clicks_of[group], n, click)
        assert _inside(replies_of[group], n, reply), (group, replies_of[group], n, reply)
        assert replies_of[group] > 0
    assert clicks_of["B"] / delivered["B"] > clicks_of["A"] / delivered["A"]
    assert _inside(buyers_clicking, buyers, BUYERS_CLICK), (buyers_clicking, buyers)

    report = (await api.get("/admin/api/bots/loja/report")).body
    assert report["tracking"]["enabled"] is True
    totals = report["totals"]
    assert (totals["clicks"], totals["clicked"]) == (len(will_click), len(will_click))
    assert totals["replies"] == len(will_reply)
    assert totals["clicks"] > 0
    assert totals["replies"] > 0
    [shown] = report["shots"]
    assert (shown["id"], shown["clicked"], shown["replies"]) == (
        shot_id,
        len(will_click),
        len(will_reply),
    )
