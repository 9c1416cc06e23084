"""The best-hour recommendation: given only when every compared hour has enough deliveries and
the best hour beats the others together by more than its uncertainty (Newcombe's interval at
95 % split over the hours, checked against statsmodels)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from statsmodels.stats.proportion import confint_proportions_2indep  # type: ignore[import-untyped]

from disparo.domain.bot_report import Counts, HourRow, build, snippet

DAY = date(2026, 11, 3)


def _report(per_hour: dict[int, tuple[int, int, int]]) -> dict[str, Any]:
    """A report of one UTC day whose hour h delivered n, of whom c clicked and p paid."""
    rows = [
        HourRow(
            1,
            datetime(2026, 11, 3, h, tzinfo=UTC),
            Counts(recipients=n, delivered=n, clicked=c, paid=p),
        )
        for h, (n, c, p) in per_hour.items()
    ]
    return build(
        bot_slug="loja", start=DAY, end=DAY, timezone="UTC", rows=rows, started=[], shots={},
        tracking={"enabled": True, "reason": None},
    )  # fmt: skip


def test_a_clear_best_hour_is_recommended_with_statsmodels_interval() -> None:
    report = _report({9: (1000, 30, 0), 12: (1000, 32, 0), 20: (1000, 80, 0)})
    advice = report["best_hours"]["recommendation"]
    assert report["best_hours"]["why_none"] is None
    assert (advice["hour"], advice["metric"], advice["delivered"]) == (20, "click_rate", 1000)
    alpha = 0.05 / 3
    low, high = confint_proportions_2indep(80, 1000, 62, 2000, method="newcomb", alpha=alpha)
    assert advice["difference"]["low"] == pytest.approx(low, abs=1e-9)
    assert advice["difference"]["high"] == pytest.approx(high, abs=1e-9)
    assert advice["confidence"] == pytest.approx(1 - alpha)
    assert advice["rate"]["value"] == 0.08
    assert advice["others_rate"]["value"] == 0.031


def test_a_difference_within_its_uncertainty_is_no_recommendation() -> None:
    report = _report({9: (1000, 30, 0), 12: (1000, 32, 0), 20: (1000, 40, 0)})
    assert report["best_hours"]["recommendation"] is None
    assert report["best_hours"]["why_none"] == "no_clear_difference"


def test_few_deliveries_or_few_clicks_are_no_recommendation() -> None:
    few = _report({9: (150, 1, 0), 20: (150, 60, 0)})
    assert few["best_hours"]["why_none"] == "too_few_deliveries"
    no_clicks_no_sales = _report({9: (1000, 0, 5), 20: (1000, 2, 9)})
    assert no_clicks_no_sales["best_hours"]["why_none"] == "too_few_deliveries"


def test_without_clicks_the_paid_rate_decides() -> None:
    report = _report({9: (2000, 0, 10), 20: (2000, 0, 60)})
    advice = report["best_hours"]["recommendation"]
    assert (advice["hour"], advice["metric"]) == (20, "paid_rate")


def test_every_day_of_the_period_is_listed_even_empty() -> None:
    rows = [HourRow(1, datetime(2026, 11, 2, 23, tzinfo=UTC), Counts(recipients=2, delivered=1))]
    report = build(
        bot_slug="loja", start=date(2026, 11, 1), end=date(2026, 11, 3),
        timezone="America/Sao_Paulo", rows=rows, started=[], shots={},
        tracking={"enabled": False, "reason": "off"},
    )  # fmt: skip
    days = {d["date"]: (d["delivered"], d["delivery_rate"]) for d in report["days"]}
    # 23:00 UTC on the 2nd is 20:00 on the 2nd in São Paulo.
    assert days == {"2026-11-01": (0, None), "2026-11-02": (1, 0.5), "2026-11-03": (0, None)}


def test_a_snippet_is_the_visible_text() -> None:
    assert snippet("<b>Oferta</b> &amp; <i>frete</i>\n grátis") == "Oferta & frete grátis"
    assert snippet("x" * 100, 10) == "x" * 9 + "…"
