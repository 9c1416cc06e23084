"""A/B shots through the API: variants, holdout, conversion events and winner mode as stored and
refused, and the conversion report and CSV checked against a hand-computed fixture (rates and
lifts against statsmodels and scipy on the same numbers)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from api_support import TOKEN, Client
from scipy import stats as scipy_stats
from sqlalchemy import insert, update
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from disparo.db.engine import Database
from disparo.db.tables import payment_transactions, shots_queue, shots_sent

SHOTS = "/admin/api/shots"
T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # when the fixture's shot went out


def variant(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "copy": f"Oferta <b>{name}</b>", "weight": 50, **fields}


def ab_shot(**fields: Any) -> dict[str, Any]:
    return {
        "bot_slug": "loja",
        "target": "started",
        "variants": [variant("A"), variant("B")],
        "holdout_percent": 20,
        "conversions": [{"event": "paid", "window_hours": 72}, {"event": "pix_created"}],
        **fields,
    }


async def test_a_shot_with_variants_holdout_and_conversions(
    api: Client, bot: dict[str, Any]
) -> None:
    """Stored as given; the shot's own copy is variant A's; a plain shot gets paid/72 h."""
    answer = await api.post(SHOTS, ab_shot(winner={"test_percent": 30}))
    assert answer.status == 201, answer.body
    shot = answer.body
    assert [v["name"] for v in shot["variants"]] == ["A", "B"]
    assert shot["variants"][1] == {
        "name": "B",
        "copy": "Oferta <b>B</b>",
        "media_type": "none",
        "media_url": None,
        "buttons": None,
        "weight": 50,
    }
    assert shot["copy"] == "Oferta <b>A</b>"
    assert shot["holdout_percent"] == 20
    assert shot["conversions"] == [
        {"event": "paid", "window_hours": 72},
        {"event": "pix_created", "window_hours": 72},
    ]
    assert shot["winner"] == {"test_percent": 30, "wait_hours": 24, "min_sample": 100}
    assert shot["winner_decision"] is None
    assert (await api.get(f"{SHOTS}/{shot['id']}")).body == shot
    plain = await api.post(SHOTS, {"bot_slug": "loja", "target": "started", "copy": "Oi"})
    assert plain.body["conversions"] == [
        {"event": "paid", "window_hours": 72},
        {"event": "pix_created", "window_hours": 72},
    ]
    assert plain.body["variants"] == []


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"variants": [variant("A")]}, "variants", "2 to 5 variants"),
        ({"variants": [variant("A"), variant("a")]}, "variants[1].name", "unique"),
        ({"variants": [variant("A"), variant("Holdout")]}, "variants[1].name", "control group"),
        (
            {"variants": [variant("A"), variant("B", copy="<b>aberto")]},
            "variants[1].copy",
            "",
        ),
        (
            {"variants": [variant("A"), variant("B", media_type="photo")]},
            "variants[1].media_url",
            "required",
        ),
        ({"variants": None, "winner": {}}, "winner", "variants"),
        ({"conversions": [{"event": "paid"}, {"event": "paid"}]}, "conversions[1].event", "twice"),
        ({"conversions": []}, "conversions", "1 to 4"),
        ({"holdout_percent": 51}, "holdout_percent", ""),
        ({"conversions": [{"event": "Comprou!"}]}, "conversions.0.event", ""),
    ],
)
async def test_bad_experiments_are_refused(
    api: Client, bot: dict[str, Any], fields: dict[str, Any], field: str, words: str
) -> None:
    """Each mistake is a 422 naming its field (a variant's own field included)."""
    answer = await api.post(SHOTS, ab_shot(**fields))
    assert answer.status == 422, answer.body
    error = answer.body["error"]
    assert field in str(error.get("field")) + str(error.get("details", ""))
    assert words in error["message"]


async def test_the_experiment_is_fixed_once_the_audience_is_written(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Editable while pending; the content of a shot with variants is its variants'; 409 once
    each recipient's group was recorded."""
    shot = (await api.post(SHOTS, ab_shot())).body
    copy = await api.patch(f"{SHOTS}/{shot['id']}", {"copy": "Nova"})
    assert copy.status == 422
    assert copy.body["error"]["field"] == "copy"
    assert "variants" in copy.body["error"]["message"]
    edited = await api.patch(f"{SHOTS}/{shot['id']}", {"holdout_percent": 10, "variants": None})
    assert edited.status == 200, edited.body
    assert edited.body["holdout_percent"] == 10
    assert edited.body["variants"] == []
    async with db.write() as conn:
        await conn.execute(
            update(shots_queue).where(shots_queue.c.id == shot["id"]).values(audience_total=3)
        )
    refused = await api.patch(f"{SHOTS}/{shot['id']}", {"holdout_percent": 0})
    assert refused.status == 409
    assert "recorded" in refused.body["error"]["message"]


# The fixture: A and B with 10 recipients each, a holdout of 5, all reached at T.
BUYERS = {  # telegram_id: payments (amount in cents, hours after T)
    1: [(5000, 1), (2000, 2)],
    2: [(5000, 1)],
    11: [(5000, 1)],
    12: [(5000, 3)],
    13: [(5000, 5)],
    14: [(5000, 70)],
    15: [(5000, 80)],  # after the 72 h window: not a conversion
    21: [(5000, 1)],
}
GROUPS = {"A": range(1, 11), "B": range(11, 21), "holdout": range(21, 26)}


async def _fixture(api: Client, db: Database) -> int:
    shot_id = int((await api.post(SHOTS, ab_shot())).body["id"])
    rows, payments = [], []
    for group, ids in GROUPS.items():
        for tid in ids:
            row = {"shot_id": shot_id, "bot_slug": "loja", "telegram_id": tid, "seq": tid}
            if group == "holdout":
                row |= {"variant": group, "status": "holdout", "updated_at": T, "sent_at": None}
            else:
                row |= {"variant": group, "status": "sent", "updated_at": T, "sent_at": T}
            rows.append(row)
    for tid, paid in BUYERS.items():
        for i, (cents, hours) in enumerate(paid):
            at = T + timedelta(hours=hours)
            payments.append(
                {"bot_slug": "loja", "telegram_id": tid, "external_id": f"{tid}-{i}"}
                | {"status": "paid", "amount_cents": cents, "created_at": at, "paid_at": at}
            )
    async with db.write() as conn:
        await conn.execute(
            update(shots_queue)
            .where(shots_queue.c.id == shot_id)
            .values(status="sent", audience_total=25, started_at=T, finished_at=T)
        )
        await conn.execute(insert(shots_sent), rows)
        await conn.execute(insert(payment_transactions), payments)
    return shot_id


def _revenue(ids: range) -> list[float]:
    return [float(sum(c for c, h in BUYERS.get(tid, []) if h <= 72)) for tid in ids]


def _close(found: dict[str, float], expected: tuple[float, float, float]) -> None:
    assert found["value"] == pytest.approx(expected[0], rel=1e-9)
    assert found["low"] == pytest.approx(expected[1], rel=1e-9)
    assert found["high"] == pytest.approx(expected[2], rel=1e-9)


async def test_the_report_matches_a_hand_computed_fixture(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Counts, revenue, rates (Wilson), lifts (Newcombe) and revenue per recipient (Welch)
    equal statsmodels and scipy on the same numbers; B's lift is significant, A's is not."""
    shot_id = await _fixture(api, db)
    answer = await api.get(f"{SHOTS}/{shot_id}/conversions")
    assert answer.status == 200, answer.body
    report = answer.body
    assert report["primary"] == "paid"
    assert report["has_holdout"] is True
    assert report["windows_close_at"] == "2026-03-05T12:00:00Z"
    groups = {g["name"]: g for g in report["groups"]}
    assert [g["name"] for g in report["groups"]] == ["A", "B", "holdout"]
    expected = {"A": (2, 12000), "B": (4, 20000), "holdout": (1, 5000)}
    for name, (paid, revenue) in expected.items():
        group = groups[name]
        assert group["recipients"] == len(GROUPS[name])
        assert group["delivered"] == (0 if name == "holdout" else 10)
        assert group["conversions"] == {"paid": paid, "pix_created": paid}  # a payment is a PIX
        assert group["revenue_cents"] == revenue
        low, high = proportion_confint(paid, len(GROUPS[name]), method="wilson")
        _close(group["rates"]["paid"], (paid / len(GROUPS[name]), low, high))
    assert groups["holdout"]["lift"] is None
    for name in ("A", "B"):
        paid = expected[name][0]
        low, high = confint_proportions_2indep(paid, 10, 1, 5, method="newcomb", compare="diff")
        _close(groups[name]["lift"]["paid"]["absolute"], (paid / 10 - 1 / 5, low, high))
        mine, control = np.array(_revenue(GROUPS[name])), np.array(_revenue(GROUPS["holdout"]))
        welch = scipy_stats.ttest_ind(mine, control, equal_var=False).confidence_interval(0.95)
        per = groups[name]["revenue_lift"]["per_recipient"]
        _close(per, (mine.mean() - control.mean(), welch.low, welch.high))
        _close(
            groups[name]["revenue_lift"]["total_cents"],
            (per["value"] * 10, per["low"] * 10, per["high"] * 10),
        )
    assert groups["A"]["significant"] is False
    assert groups["B"]["significant"] is False  # 4/10 against 1/5: far too few to tell
    assert report["summary"]["pt-BR"].startswith("Ainda inconclusivo: a variante B ficou R$ 100")
    assert report["summary"]["en"].startswith("Still inconclusive: variant B is R$ 100")
    points = {(p["group"], p["t"]): p["conversions"] for p in report["series"]["points"]}
    assert sum(points.values()) == 7
    assert report["series"]["event"] == "paid"


async def test_the_csv_has_one_line_per_recipient(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Group, status, when the shot reached them, each event's time and the revenue."""
    shot_id = await _fixture(api, db)
    answer = await api.get(f"{SHOTS}/{shot_id}/conversions.csv")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(lines) == 25
    by_id = {int(line["telegram_id"]): line for line in lines}
    assert by_id[1] == {
        "telegram_id": "1",
        "group": "A",
        "status": "sent",
        "reached_at": "2026-03-02T12:00:00Z",
        "paid_at": "2026-03-02T13:00:00Z",
        "pix_created_at": "2026-03-02T13:00:00Z",
        "revenue_cents": "7000",
    }
    assert by_id[21]["group"] == "holdout"
    assert by_id[21]["status"] == "holdout"
    assert by_id[15]["paid_at"] == ""
    assert (await api.get(f"{SHOTS}/999999/conversions")).status == 404
    assert (await api.get(f"{SHOTS}/999999/conversions.csv")).status == 404


async def test_stats_count_the_holdout_as_done(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Holdout members are finished deliveries (progress), never skipped, and on the timeline."""
    shot_id = await _fixture(api, db)
    stats = (await api.get(f"{SHOTS}/{shot_id}/stats")).body
    assert stats["holdout"] == 5
    assert stats["skipped"] == 0
    assert stats["sent"] == 20
    assert stats["progress"] == 1.0
    assert sum(point["holdout"] for point in stats["timeline"]) == 5


async def test_a_test_send_of_one_variant(api: Client, sim: Client, bot: dict[str, Any]) -> None:
    """`variant` picks what the chat receives; an unknown one is a 422 listing them."""
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 42, "state": "active"}], token=None)
    shot = (await api.post(SHOTS, ab_shot())).body
    sent = await api.post(f"{SHOTS}/{shot['id']}/test", {"telegram_id": 42, "variant": "B"})
    assert sent.status == 200, sent.body
    assert sent.body["messages"][0]["text"] == "Oferta B"
    default = await api.post(f"{SHOTS}/{shot['id']}/test", {"telegram_id": 42})
    assert default.body["messages"][0]["text"] == "Oferta A"
    unknown = await api.post(f"{SHOTS}/{shot['id']}/test", {"telegram_id": 42, "variant": "C"})
    assert unknown.status == 422
    assert unknown.body["error"]["field"] == "variant"
    assert "A, B" in unknown.body["error"]["message"]


async def test_a_shot_waiting_for_its_winner_can_be_paused_or_cancelled(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """The wait is an ordinary pending shot: pause, resume and cancel act on it."""
    shot = (await api.post(SHOTS, ab_shot(winner={"test_percent": 20}))).body
    waiting = {"test_ended_at": T.isoformat(), "decide_at": (T + timedelta(hours=24)).isoformat()}
    async with db.write() as conn:
        await conn.execute(
            update(shots_queue)
            .where(shots_queue.c.id == shot["id"])
            .values(audience_total=1, started_at=T, winner_decision=waiting)
        )
    paused = await api.post(f"{SHOTS}/{shot['id']}/pause")
    assert paused.status == 200, paused.body
    assert paused.body["status"] == "paused"
    assert paused.body["winner_decision"] == waiting
    assert (await api.post(f"{SHOTS}/{shot['id']}/resume")).body["status"] == "pending"
    cancelled = await api.post(f"{SHOTS}/{shot['id']}/cancel")
    assert cancelled.body["status"] == "cancelled"
