"""Statistics of an A/B test with a holdout: rates, revenue per recipient, their differences and
lifts with confidence intervals, and the choice of a winner. Pure over counts and moments; scipy
gives the quantiles and is imported only when one is needed (the web server imports this module).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from disparo.domain.errors import DomainError

Reason = Literal["significant", "not_significant", "too_few"]


@dataclass(frozen=True, slots=True)
class Interval:
    """An estimate and its confidence interval; never NaN (undefined ones are None instead)."""

    value: float
    low: float
    high: float

    def as_json(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant of a test: who got it and how many of them converted."""

    name: str
    conversions: int
    recipients: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The winner of a test and why; `difference` is best minus runner-up at the adjusted level."""

    winner: str
    conclusive: bool
    reason: Reason
    best: str
    rates: dict[str, float]
    difference: Interval | None


def _alpha(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise DomainError(f"confidence must be between 0 and 1 (e.g. 0.95), not {confidence!r}")
    return 1 - confidence


def _quantile(confidence: float, df: float | None = None) -> float:
    """The two-sided quantile for `confidence`: standard normal (1.96 at 0.95), or Student's t
    with `df` degrees of freedom."""
    from scipy import stats  # type: ignore[import-untyped]  # lazy: scipy is heavy to import

    tail = _alpha(confidence) / 2
    return float(stats.norm.isf(tail) if df is None else stats.t.isf(tail, df))


def _check_count(successes: int, n: int) -> None:
    if not 0 <= successes <= n:
        raise DomainError(f"successes must be between 0 and n; got {successes} of {n}")


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson's score interval (1927), in statsmodels' order of operations; exactly 0 at 0
    successes and 1 at n, where rounding would leave the observed proportion outside."""
    p, z2 = successes / n, z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(center - half, 0.0)
    return low, 1.0 if successes == n else min(center + half, 1.0)


def rate(successes: int, n: int, confidence: float = 0.95) -> Interval | None:
    """A proportion with the Wilson score interval, no continuity correction (Wilson 1927;
    Brown, Cai & DasGupta 2001). None when n is 0."""
    _check_count(successes, n)
    if n == 0:
        return None
    low, high = _wilson(successes, n, _quantile(confidence))
    return Interval(successes / n, low, high)


def rate_difference(
    x1: int, n1: int, x0: int, n0: int, confidence: float = 0.95
) -> Interval | None:
    """p1 − p0 with Newcombe's hybrid score interval built from the two Wilson intervals
    (Newcombe 1998, method 10). None when either group is empty."""
    _check_count(x1, n1)
    _check_count(x0, n0)
    if n1 == 0 or n0 == 0:
        return None
    z = _quantile(confidence)
    (l1, u1), (l0, u0) = _wilson(x1, n1, z), _wilson(x0, n0, z)
    p1, p0 = x1 / n1, x0 / n0
    diff = p1 - p0
    low = diff - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = diff + math.sqrt((p0 - l0) ** 2 + (u1 - p1) ** 2)
    return Interval(diff, low, high)


def rate_ratio_lift(
    x1: int, n1: int, x0: int, n0: int, confidence: float = 0.95
) -> Interval | None:
    """Relative lift p1/p0 − 1 from the log risk ratio (Katz et al. 1978). When either count
    is 0, 0.5 is added to every count and size (statsmodels' "log-adjusted"), and the value is
    that adjusted ratio − 1 too, so it stays finite and inside its interval. None when a group
    is empty (the adjusted form is defined for any other counts)."""
    _check_count(x1, n1)
    _check_count(x0, n0)
    if n1 == 0 or n0 == 0:
        return None
    add = 0.5 if x1 == 0 or x0 == 0 else 0.0
    a1, m1, a0, m0 = x1 + add, n1 + add, x0 + add, n0 + add
    ratio = (a1 / m1) / (a0 / m0)
    half = _quantile(confidence) * math.sqrt(max(1 / a1 - 1 / m1 + 1 / a0 - 1 / m0, 0.0))
    log_ratio = math.log(ratio)
    return Interval(ratio - 1, math.exp(log_ratio - half) - 1, math.exp(log_ratio + half) - 1)


def _moments(sum_: float, sumsq: float, n: int) -> tuple[float, float]:
    """Mean and sample variance (n − 1) from a sum and a sum of squares. The one-pass formula
    loses digits when the mean dwarfs the spread; revenue per recipient, mostly 0, is the
    opposite case. Rounding below 0 is clamped to 0."""
    mean_ = sum_ / n
    return mean_, max((sumsq - sum_ * mean_) / (n - 1), 0.0)


def mean(sum_: float, sumsq: float, n: int, confidence: float = 0.95) -> Interval | None:
    """One group's mean with Student's t interval (n − 1 degrees of freedom) from its sum and
    sum of squares. Zero-width when every value is equal; None when n < 2."""
    if n < 2:
        return None
    m, var = _moments(sum_, sumsq, n)
    se = math.sqrt(var / n)
    if se == 0:
        return Interval(m, m, m)
    half = _quantile(confidence, n - 1) * se
    return Interval(m, m - half, m + half)


def mean_difference(
    sum1: float,
    sumsq1: float,
    n1: int,
    sum0: float,
    sumsq0: float,
    n0: int,
    confidence: float = 0.95,
) -> Interval | None:
    """m1 − m0 with Welch's t interval (Welch 1947; Satterthwaite 1946 degrees of freedom) from
    each group's sum and sum of squares. Zero-width when both variances are 0; None when a
    group has fewer than 2 values."""
    if n1 < 2 or n0 < 2:
        return None
    (m1, v1), (m0, v0) = _moments(sum1, sumsq1, n1), _moments(sum0, sumsq0, n0)
    s1, s0 = v1 / n1, v0 / n0
    diff = m1 - m0
    if s1 + s0 == 0:
        return Interval(diff, diff, diff)
    df = (s1 + s0) ** 2 / (s1**2 / (n1 - 1) + s0**2 / (n0 - 1))
    half = _quantile(confidence, df) * math.sqrt(s1 + s0)
    return Interval(diff, diff - half, diff + half)


def mean_ratio_lift(
    sum1: float,
    sumsq1: float,
    n1: int,
    sum0: float,
    sumsq0: float,
    n0: int,
    confidence: float = 0.95,
) -> Interval | None:
    """Relative lift m1/m0 − 1 with a normal interval on log(m1/m0) by the delta method,
    var ≈ v1/(n1·m1²) + v0/(n0·m0²) (e.g. Deng, Knoblich & Lu 2018). None when a group has
    fewer than 2 values, or a mean is 0 (or the means differ in sign)."""
    if n1 < 2 or n0 < 2:
        return None
    (m1, v1), (m0, v0) = _moments(sum1, sumsq1, n1), _moments(sum0, sumsq0, n0)
    if m1 == 0 or m0 == 0 or (m1 > 0) != (m0 > 0):
        return None
    ratio = m1 / m0
    half = _quantile(confidence) * math.sqrt(v1 / (n1 * m1 * m1) + v0 / (n0 * m0 * m0))
    log_ratio = math.log(ratio)
    return Interval(ratio - 1, math.exp(log_ratio - half) - 1, math.exp(log_ratio + half) - 1)


def significant(interval: Interval) -> bool:
    """Whether the interval excludes 0 (a two-sided test at the interval's level)."""
    return interval.low > 0 or interval.high < 0


def decide_winner(
    arms: Sequence[Arm], *, min_sample: int, fallback: str, confidence: float = 0.95
) -> Decision:
    """The arm with the highest rate (the earlier one on ties) wins only if its Newcombe interval
    against every other arm excludes 0 at the Bonferroni-adjusted confidence
    1 − (1 − confidence)/(k − 1); otherwise, or when any arm has fewer than `min_sample`
    recipients, `fallback` wins."""
    names = [arm.name for arm in arms]
    if len(arms) < 2 or len(set(names)) != len(names):
        raise DomainError(f"a test needs at least two arms with distinct names; got {names}")
    adjusted = 1 - _alpha(confidence) / (len(arms) - 1)
    rates = {a.name: a.conversions / a.recipients if a.recipients else 0.0 for a in arms}
    best = max(arms, key=lambda a: rates[a.name])  # max keeps the first of equals
    others = [arm for arm in arms if arm is not best]
    differences = [
        rate_difference(best.conversions, best.recipients, o.conversions, o.recipients, adjusted)
        for o in others
    ]
    runner_up = max(range(len(others)), key=lambda i: rates[others[i].name])
    reason: Reason
    if any(arm.recipients < min_sample for arm in arms):
        reason = "too_few"
    elif all(d is not None and significant(d) for d in differences):
        reason = "significant"
    else:
        reason = "not_significant"
    conclusive = reason == "significant"
    return Decision(
        winner=best.name if conclusive else fallback,
        conclusive=conclusive,
        reason=reason,
        best=best.name,
        rates=rates,
        difference=differences[runner_up],
    )
