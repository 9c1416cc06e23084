"""The demo's simulated buyers against a real API, worker and simulator: the conversion report of
the demo's A/B shot comes back with exactly the planted truth, recomputed here from the hash."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from api_support import ADMIN_TOKEN, TOKEN, BuildApp, Client, Serve, demo_audience

from disparo.config import Settings
from disparo.db.engine import Database
from disparo.demo.buyers import PLANTED, Buyers, Delays, ab_shot, start_ab_test
from disparo.services import engine_background

AUDIENCE = range(5001, 5601)
SEED = "test-buyers"
# The demo's minutes squeezed into seconds; every PIX comes before the first payment.
DELAYS = Delays(pix_s=(0.05, 0.5), pay_s=(2.0, 3.0))


def _unit(telegram_id: int, what: str) -> float:
    """The documented draw, written out again: SHA-256 of `seed:what:id`, 8 bytes over 2**64."""
    digest = hashlib.sha256(f"{SEED}:{what}:{telegram_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


async def _shot_sent(api: Client, shot_id: int) -> dict[str, Any]:
    for _ in range(400):
        stats = (await api.get(f"/admin/api/shots/{shot_id}/stats")).body
        if stats["status"] not in ("pending", "running"):
            return dict(stats)
        await asyncio.sleep(0.05)
    raise AssertionError(f"shot {shot_id} still {stats['status']}")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_buyers_pay_at_the_planted_rates(
    build_app: BuildApp, serve: Serve, db: Database, settings: Settings
) -> None:
    """Buyers import nothing before its time and nobody twice, a PIX first and its payment
    later on the same row; the report's conversions and revenue per group equal the truth
    recomputed from the hash, each at its planted delay after the delivery."""
    api = await serve(build_app(background=[engine_background(settings, db)]))
    bot = {"slug": "loja", "token": TOKEN, "rate_per_s": 1000, "paid_broadcast": True}
    assert (await api.post("/admin/api/bots", bot)).status == 201
    await demo_audience(api, settings.telegram_api_url, AUDIENCE)
    shot_id = await start_ab_test(api.base_url, ADMIN_TOKEN, "loja")
    shot = (await api.get(f"/admin/api/shots/{shot_id}")).body
    assert (shot["holdout_percent"], [v["name"] for v in shot["variants"]]) == (20, ["A", "B"])
    assert shot["conversions"] == ab_shot("loja")["conversions"]
    stats = await _shot_sent(api, shot_id)
    assert (stats["status"], stats["total"]) == ("sent", len(AUDIENCE))

    started = (await api.get(f"/admin/api/shots/{shot_id}")).body["started_at"]
    clock = _at(started) - timedelta(minutes=1)
    buyers = Buyers(
        api.session, api.base_url, ADMIN_TOKEN, "loja", shot_id,
        seed=SEED, delays=DELAYS, now=lambda: clock,
    )  # fmt: skip
    assert await buyers.step() is True  # everyone reached, nobody's time has come
    assert len(buyers.planned) == len(AUDIENCE)
    assert buyers.imported == {}
    early = (await api.get(f"/admin/api/shots/{shot_id}/conversions")).body
    assert all(g["conversions"] == {"paid": 0, "pix_created": 0} for g in early["groups"])

    purchases = [p for p in buyers.planned.values() if p is not None]
    last_pix = max(p.pix_at for p in purchases)
    assert last_pix < min(p.paid_at for p in purchases if p.paid_at is not None)
    clock = last_pix  # every PIX due, no payment yet (and not ahead of the real clock)
    assert await buyers.step() is True
    assert set(buyers.imported.values()) == {"created"}
    pixed = (await api.get(f"/admin/api/shots/{shot_id}/conversions")).body
    assert sum(g["conversions"]["pix_created"] for g in pixed["groups"]) == len(purchases)
    assert all(g["conversions"]["paid"] == 0 for g in pixed["groups"])

    buyers.now = lambda: datetime.now(UTC)  # payments turn the same rows paid (an update)
    await asyncio.wait_for(buyers.run(poll_s=0.1), timeout=30)
    imports = len(buyers.imported)
    assert await buyers.step() is False  # all in: a further step imports nothing
    assert len(buyers.imported) == imports

    exported = await api.get(f"/admin/api/shots/{shot_id}/conversions.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == len(AUDIENCE)
    recipients: Counter[str] = Counter()
    pix: Counter[str] = Counter()
    paid: Counter[str] = Counter()
    revenue: Counter[str] = Counter()
    for row in rows:
        group, tid = row["group"], int(row["telegram_id"])
        recipients[group] += 1
        baseline = row["status"] != "sent"  # nothing reached it: it buys as without a message
        rates, unit = PLANTED["holdout" if baseline else group], _unit(tid, "buy")
        buys, pays = unit < rates.pix, unit < rates.paid
        pix[group] += buys
        paid[group] += pays
        revenue[group] += (4990 + tid % 5 * 1000) if pays else 0
        assert bool(row["pix_created_at"]) == buys, row
        assert bool(row["paid_at"]) == pays, row
        if buys:  # each conversion after the shot reached them, at the planted delay
            after = _at(row["pix_created_at"]) - _at(row["reached_at"])
            assert timedelta(seconds=DELAYS.pix_s[0]) <= after <= timedelta(seconds=DELAYS.pix_s[1])
        if pays:
            after = _at(row["paid_at"]) - _at(row["pix_created_at"])
            assert timedelta(seconds=DELAYS.pay_s[0]) <= after <= timedelta(seconds=DELAYS.pay_s[1])
    assert set(recipients) == {"A", "B", "holdout"}
    unreached = {
        tid for tid in AUDIENCE if tid % 7 == 0
    }  # blocked; a holdout member is never tried
    skipped = {int(row["telegram_id"]) for row in rows if row["status"] == "skipped"}
    assert skipped == {int(r["telegram_id"]) for r in rows if r["group"] != "holdout"} & unreached
    assert all(pix[g] > paid[g] > 0 for g in recipients)  # a truth worth checking

    report = (await api.get(f"/admin/api/shots/{shot_id}/conversions")).body
    found = {g["name"]: g for g in report["groups"]}
    for group in recipients:
        assert found[group]["recipients"] == recipients[group]
        assert found[group]["conversions"] == {"paid": paid[group], "pix_created": pix[group]}
        assert found[group]["revenue_cents"] == revenue[group]
