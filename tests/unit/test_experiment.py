"""Assignment of a shot's recipients to groups: uniform buckets, ranges cut by the holdout and
the weights, winner mode's remainder, and independence between shots (chi-square tests from
scipy)."""

from __future__ import annotations

from collections import Counter
from random import Random

import pytest
from scipy import stats

from disparo.domain.experiment import BUCKETS, HOLDOUT, Arm, Split, bucket


@pytest.mark.parametrize(
    "ids",
    [
        range(1, 200_001),  # consecutive ids, as imports often have
        Random(7).sample(range(1, 2**52), 200_000),  # Telegram-sized ids
        range(5_000_000_000, 5_000_200_000),
    ],
    ids=["consecutive", "random", "large"],
)
def test_buckets_are_uniform(ids: range | list[int]) -> None:
    """Every tenth of the buckets gets a tenth of the recipients (chi-square p > 0.001)."""
    for shot_id in (1, 7, 123_456):
        counts = Counter(bucket(shot_id, tid) * 10 // BUCKETS for tid in ids)
        assert stats.chisquare(list(counts.values())).pvalue > 0.001


def test_buckets_are_independent_across_shots() -> None:
    """Whoever is in one shot's holdout is in another's at the rate chance gives (10 % of
    10 %), not always the same people."""
    ids = range(1, 100_001)
    first = {tid for tid in ids if bucket(11, tid) < 1000}
    for other in (12, 13, 500):
        second = {tid for tid in ids if bucket(other, tid) < 1000}
        both = len(first & second)
        assert stats.binomtest(both, len(first), 0.1).pvalue > 0.001


def test_negative_ids_land_in_range() -> None:
    assert all(0 <= bucket(3, -tid) < BUCKETS for tid in range(1, 1000))


def test_ranges_follow_holdout_and_weights() -> None:
    """10 % holdout, then A and B at 1:3 of the rest."""
    split = Split.of(arms=(Arm("A", 1), Arm("B", 3)), holdout_percent=10)
    assert split is not None
    assert split.ranges == ((1000, HOLDOUT), (3250, "A"), (10_000, "B"))
    assert split.group(999) == HOLDOUT
    assert split.group(1000) == "A"
    assert split.group(9999) == "B"


def test_winner_mode_leaves_a_remainder() -> None:
    split = Split.of(arms=(Arm("A", 1), Arm("B", 1)), holdout_percent=0, test_percent=20)
    assert split is not None
    assert split.ranges == ((1000, "A"), (2000, "B"), (10_000, None))
    assert split.group(5000) is None


def test_no_experiment_no_split() -> None:
    assert Split.of(arms=(), holdout_percent=0) is None
    only_holdout = Split.of(arms=(), holdout_percent=5)
    assert only_holdout is not None
    assert only_holdout.ranges == ((500, HOLDOUT), (10_000, None))
