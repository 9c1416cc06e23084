"""A/B statistics: each interval agrees with statsmodels or scipy on known cases, covers the
truth at about its nominal rate in seeded simulations, and the winner rule holds its error rate."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from disparo.domain.errors import DomainError
from disparo.domain.stats import (
    Arm,
    Interval,
    decide_winner,
    mean,
    mean_difference,
    mean_ratio_lift,
    rate,
    rate_difference,
    rate_ratio_lift,
    significant,
)

RTOL = 1e-9
ATOL = 1e-12  # Wilson bounds at 0 or 1 are rounding noise around the bound in either library


def close(got: float, want: float) -> bool:
    return math.isclose(got, float(want), rel_tol=RTOL, abs_tol=ATOL)


def moments(values: np.ndarray) -> tuple[float, float, int]:
    """Sum, sum of squares and count: what the database aggregates for a group."""
    return math.fsum(values), math.fsum(values * values), int(values.size)


def revenue(rng: np.random.Generator, n: int, p_buy: float) -> np.ndarray:
    """Revenue per recipient in cents: 0 for most, 1,000-50,000 for the buyers."""
    buys = rng.random(n) < p_buy
    return np.where(buys, rng.integers(1000, 50_001, n), 0).astype(float)


RATE_CASES = [(0, 1), (1, 1), (0, 10), (10, 10), (1, 3), (3, 7), (50, 100), (1, 10_000),
              (9_999, 10_000), (123, 4_567)]  # fmt: skip


@pytest.mark.parametrize(("x", "n"), RATE_CASES)
@pytest.mark.parametrize("confidence", [0.95, 0.9, 0.99])
def test_rate_is_statsmodels_wilson(x: int, n: int, confidence: float) -> None:
    """rate() is proportion_confint(method="wilson") with the observed proportion as value."""
    got = rate(x, n, confidence)
    low, high = proportion_confint(x, n, alpha=1 - confidence, method="wilson")
    assert got is not None
    assert got.value == x / n
    assert close(got.low, low)
    assert close(got.high, high)
    assert 0 <= got.low <= got.value <= got.high <= 1


TWO_GROUP_CASES = [
    (0, 1, 1, 1),  # smallest groups
    (3, 10, 0, 12),  # a zero, small n
    (0, 50, 0, 40),  # both zero
    (10, 10, 7, 9),  # p = 1
    (2, 5_000, 9, 5_000),  # p near 0
    (4_990, 5_000, 4_960, 5_000),  # p near 1
    (420, 9_000, 30, 1_000),  # unequal n: a 10 % holdout
    (57, 1_000, 41, 1_000),
]


@pytest.mark.parametrize(("x1", "n1", "x0", "n0"), TWO_GROUP_CASES)
@pytest.mark.parametrize("confidence", [0.95, 0.975])
def test_rate_difference_is_statsmodels_newcombe(
    x1: int, n1: int, x0: int, n0: int, confidence: float
) -> None:
    """rate_difference() is confint_proportions_2indep(method="newcomb", compare="diff")."""
    got = rate_difference(x1, n1, x0, n0, confidence)
    low, high = confint_proportions_2indep(
        x1, n1, x0, n0, method="newcomb", compare="diff", alpha=1 - confidence
    )
    assert got is not None
    assert close(got.value, x1 / n1 - x0 / n0)
    assert close(got.low, low)
    assert close(got.high, high)


@pytest.mark.parametrize(("x1", "n1", "x0", "n0"), TWO_GROUP_CASES)
def test_rate_ratio_lift_is_statsmodels_log_ratio_minus_one(
    x1: int, n1: int, x0: int, n0: int
) -> None:
    """rate_ratio_lift() is the "log" risk-ratio interval minus 1, "log-adjusted" with a zero."""
    zero = x1 == 0 or x0 == 0
    got = rate_ratio_lift(x1, n1, x0, n0)
    low, high = confint_proportions_2indep(
        x1, n1, x0, n0, method="log-adjusted" if zero else "log", compare="ratio"
    )
    assert got is not None
    assert close(got.low, low - 1)
    assert close(got.high, high - 1)
    if zero:  # the adjusted ratio, finite and inside its interval
        assert close(got.value, ((x1 + 0.5) / (n1 + 0.5)) / ((x0 + 0.5) / (n0 + 0.5)) - 1)
    else:
        assert close(got.value, (x1 / n1) / (x0 / n0) - 1)
    assert got.low <= got.value <= got.high


def test_empty_groups_have_no_rate_interval() -> None:
    """n == 0 anywhere gives None, not NaN."""
    assert rate(0, 0) is None
    assert rate_difference(0, 0, 3, 10) is None
    assert rate_difference(3, 10, 0, 0) is None
    assert rate_ratio_lift(0, 0, 3, 10) is None
    assert rate_ratio_lift(3, 10, 0, 0) is None


def _welch_cases() -> list[object]:
    rng = np.random.default_rng(20240611)
    return [
        (np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0, 7.0])),
        (np.array([0.0, 1.0]), np.array([0.0, 0.0, 5.0])),  # n = 2
        pytest.param(  # one variance 0, which scipy warns of (its moments cancel)
            np.array([5.0, 5.0, 5.0]),
            np.array([1.0, 2.0, 9.0]),
            marks=pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning"),
        ),
        (np.array([-3.5, 2.25, 10.0, 0.0]), np.array([1.0, -1.0])),  # negatives
        (rng.normal(100, 15, 40), rng.normal(95, 40, 400)),  # unequal n and spread
        (rng.exponential(30, 1_000), rng.exponential(25, 1_000)),
        (revenue(rng, 10_000, 0.03), revenue(rng, 10_000, 0.03)),  # zero-inflated revenue
        (revenue(rng, 9_000, 0.035), revenue(rng, 1_000, 0.03)),  # with a 10 % holdout
    ]


@pytest.mark.parametrize(("a", "b"), _welch_cases())
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_mean_difference_from_moments_is_scipy_welch(
    a: np.ndarray, b: np.ndarray, confidence: float
) -> None:
    """mean_difference() from sums and sums of squares is ttest_ind(equal_var=False)'s interval
    on the raw values."""
    got = mean_difference(*moments(a), *moments(b), confidence=confidence)
    want = sps.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    assert got is not None
    assert close(got.value, a.mean() - b.mean())
    assert close(got.low, want.low)
    assert close(got.high, want.high)


def test_mean_difference_of_constant_groups_is_zero_width() -> None:
    """Both variances 0: the interval is the difference itself; fewer than 2 values: None."""
    assert mean_difference(6.0, 18.0, 2, 3.0, 3.0, 3) == Interval(2.0, 2.0, 2.0)
    assert mean_difference(0.0, 0.0, 500, 0.0, 0.0, 500) == Interval(0.0, 0.0, 0.0)
    assert mean_difference(5.0, 25.0, 1, 3.0, 5.0, 3) is None
    assert mean_difference(3.0, 5.0, 3, 0.0, 0.0, 0) is None


@pytest.mark.parametrize(("a", "_b"), _welch_cases())
def test_mean_is_scipy_t_interval(a: np.ndarray, _b: np.ndarray) -> None:
    """mean() is t.interval(df=n − 1, loc=mean, scale=sem) on the raw values."""
    got = mean(*moments(a))
    assert got is not None
    assert close(got.value, a.mean())
    if np.ptp(a) == 0:
        assert got == Interval(got.value, got.value, got.value)
        return
    low, high = sps.t.interval(0.95, a.size - 1, loc=a.mean(), scale=sps.sem(a))
    assert close(got.low, low)
    assert close(got.high, high)


def test_mean_needs_two_values() -> None:
    """One value has no spread to estimate: None."""
    assert mean(7.0, 49.0, 1) is None
    assert mean(0.0, 0.0, 0) is None


def test_mean_ratio_lift_agrees_with_a_percentile_bootstrap() -> None:
    """On 10,000 recipients an arm (4 % vs 3 % buyers), the delta-method interval's bounds lie
    within 5 % of its width of scipy's percentile bootstrap. The two are different
    approximations, not one formula: at 4,000 resamples a bootstrap bound's standard error is
    about 1 % of the width, and with ~350 buyers a group the ratio's skew, which the log scale
    only partly absorbs, kept them up to 3 % apart on other seeds (under 1 % on this one)."""
    rng = np.random.default_rng(7)
    a, b = revenue(rng, 10_000, 0.04), revenue(rng, 10_000, 0.03)
    got = mean_ratio_lift(*moments(a), *moments(b))
    boot = sps.bootstrap(
        (a, b),
        lambda x, y, axis=-1: x.mean(axis=axis) / y.mean(axis=axis) - 1,
        n_resamples=4_000,
        method="percentile",
        batch=200,
        rng=np.random.default_rng(8),
    ).confidence_interval
    assert got is not None
    assert close(got.value, a.mean() / b.mean() - 1)
    width = got.high - got.low
    assert abs(got.low - boot.low) < 0.05 * width
    assert abs(got.high - boot.high) < 0.05 * width


def _simulated_moments(rng: np.random.Generator, n: int, p_buy: float) -> tuple[float, float, int]:
    """A group's revenue moments, drawn as the buyers' count and their amounts (zeros add 0)."""
    amounts = rng.integers(1000, 50_001, rng.binomial(n, p_buy)).astype(float)
    return (*moments(amounts)[:2], n)


def test_mean_ratio_lift_covers_the_true_lift_at_about_95_percent() -> None:
    """200 seeded tests of 5,000 recipients an arm, buying 4 % vs 3 % with the same amounts:
    the interval holds the true lift 1/3 in 90-99 % of them."""
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(200):
        got = mean_ratio_lift(
            *_simulated_moments(rng, 5_000, 0.04), *_simulated_moments(rng, 5_000, 0.03)
        )
        assert got is not None
        covered += got.low <= 1 / 3 <= got.high
    assert 0.90 <= covered / 200 <= 0.99


def test_mean_ratio_lift_needs_nonzero_means() -> None:
    """A mean of 0 has no ratio: None."""
    assert mean_ratio_lift(0.0, 0.0, 100, 50.0, 2500.0, 100) is None
    assert mean_ratio_lift(50.0, 2500.0, 100, 0.0, 0.0, 100) is None
    assert mean_ratio_lift(50.0, 2500.0, 1, 50.0, 2500.0, 100) is None


def test_rate_difference_covers_the_true_difference_at_about_95_percent() -> None:
    """300 seeded tests, 5 % vs 4 % on 3,000 and 1,000 recipients: the interval holds the true
    difference in 90-99 % of them."""
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(300):
        got = rate_difference(
            int(rng.binomial(3_000, 0.05)), 3_000, int(rng.binomial(1_000, 0.04)), 1_000
        )
        assert got is not None
        covered += got.low <= 0.01 <= got.high
    assert 0.90 <= covered / 300 <= 0.99


def test_significant_means_the_interval_excludes_zero() -> None:
    """Above or below 0 is significant; touching or holding it is not."""
    assert significant(Interval(0.02, 0.01, 0.03))
    assert significant(Interval(-0.02, -0.03, -0.01))
    assert not significant(Interval(0.01, -0.01, 0.03))
    assert not significant(Interval(0.0, 0.0, 0.0))
    assert Interval(0.5, 0.25, 0.75).as_json() == {"value": 0.5, "low": 0.25, "high": 0.75}


def _arms(rng: np.random.Generator, n: int, rates: dict[str, float]) -> list[Arm]:
    return [Arm(name, int(rng.binomial(n, p)), n) for name, p in rates.items()]


def test_a_planted_large_effect_wins() -> None:
    """10 % against 5 % and 5 % on 2,000 recipients each: B wins in each of 20 seeded tests."""
    for seed in range(20):
        arms = _arms(np.random.default_rng(seed), 2_000, {"A": 0.05, "B": 0.10, "C": 0.05})
        decision = decide_winner(arms, min_sample=1_000, fallback="A")
        assert (decision.winner, decision.reason, decision.conclusive) == ("B", "significant", True)


def test_equal_rates_rarely_win() -> None:
    """Three arms at 5 % on 2,000 recipients each: the fallback wins in at least 90 of 100 seeded
    tests (Bonferroni holds the false win rate under 5 %)."""
    rng = np.random.default_rng(3)
    decisions = [
        decide_winner(
            _arms(rng, 2_000, {"A": 0.05, "B": 0.05, "C": 0.05}), min_sample=1_000, fallback="A"
        )
        for _ in range(100)
    ]
    false_wins = sum(d.conclusive for d in decisions)
    assert false_wins <= 10
    assert all(d.winner == "A" for d in decisions if not d.conclusive)


def test_too_few_recipients_fall_back() -> None:
    """An arm under min_sample: the fallback wins, however large the gap; best is still named."""
    arms = [Arm("A", 1, 100), Arm("B", 60, 100), Arm("holdout", 0, 20)]
    decision = decide_winner(arms, min_sample=50, fallback="A")
    assert (decision.winner, decision.reason, decision.conclusive) == ("A", "too_few", False)
    assert decision.best == "B"
    assert decision.rates == {"A": 0.01, "B": 0.6, "holdout": 0.0}


def test_the_difference_is_best_minus_runner_up_at_the_adjusted_level() -> None:
    """With k arms the pairs are judged at 1 − 0.05/(k − 1); ties go to the earlier arm."""
    arms = [Arm("A", 50, 1_000), Arm("B", 80, 1_000), Arm("C", 70, 1_000), Arm("D", 80, 1_000)]
    decision = decide_winner(arms, min_sample=100, fallback="A")
    assert decision.best == "B"  # B and D tie; B comes first
    assert decision.difference == rate_difference(80, 1_000, 80, 1_000, 1 - 0.05 / 3)
    assert decision.reason == "not_significant"
    assert decision.winner == "A"


def test_bad_inputs_say_what_is_wrong() -> None:
    """Counts above their size, a confidence outside (0, 1), fewer than two arms are refused."""
    with pytest.raises(DomainError, match="between 0 and n"):
        rate(11, 10)
    with pytest.raises(DomainError, match="confidence"):
        rate(1, 10, confidence=95)
    with pytest.raises(DomainError, match="two arms"):
        decide_winner([Arm("A", 1, 10)], min_sample=1, fallback="A")
    with pytest.raises(DomainError, match="distinct"):
        decide_winner([Arm("A", 1, 10), Arm("A", 2, 10)], min_sample=1, fallback="A")


def test_importing_the_module_does_not_import_scipy() -> None:
    """The web server imports this module at start; scipy waits for the first interval."""
    code = "import sys, disparo.domain.stats; sys.exit('scipy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
