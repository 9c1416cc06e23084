"""A shot's experiment: who gets which variant, who is held out, and winner mode's split.

Each recipient falls in one of 10,000 buckets, a deterministic hash of the shot's id and the
recipient's Telegram id (`bucket`; `db.experiment.bucket_of` is the same arithmetic in SQL), so
a snapshot's assignment is uniform, repeatable and independent of the audience's order.
Buckets are then cut in ranges: the holdout first, then (in winner mode, the test share only)
each variant in proportion to its weight; what is left in winner mode waits for the winner
(variant NULL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BUCKETS = 10_000
HOLDOUT = "holdout"
DEFAULT_WINDOW_HOURS = 72
MAX_WINDOW_HOURS = 720
MAX_GOALS = 4
MIN_VARIANTS, MAX_VARIANTS = 2, 5
DEFAULT_MIN_SAMPLE = 100

PRIME = 1_000_003  # a prime: every product below stays far under 2**63


def bucket(shot_id: int, telegram_id: int) -> int:
    """The recipient's bucket in 0..9999 (both backends truncate `%` toward zero: the first
    step makes the operand non-negative, as Python's)."""
    x = ((telegram_id % PRIME) + PRIME) % PRIME
    y = (x * 7919 + shot_id % PRIME) % PRIME
    z = (y * (shot_id % 9973 + 2)) % PRIME
    return ((z * 6007 + x) % PRIME) % BUCKETS


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant's name and weight."""

    name: str
    weight: int


@dataclass(frozen=True, slots=True)
class Split:
    """How a shot's audience is cut: `(upper bucket, group)` ranges in order; group None is
    winner mode's remainder (the variant is chosen later)."""

    ranges: tuple[tuple[int, str | None], ...]

    @classmethod
    def of(
        cls, *, arms: tuple[Arm, ...], holdout_percent: int, test_percent: int | None = None
    ) -> Split | None:
        """The split of a shot; None when it has neither variants nor a holdout (every
        recipient's variant stays NULL)."""
        if not arms and not holdout_percent:
            return None
        held = holdout_percent * BUCKETS // 100
        ranges: list[tuple[int, str | None]] = [(held, HOLDOUT)] if held else []
        share = BUCKETS - held if test_percent is None else test_percent * BUCKETS // 100
        if not arms:
            ranges.append((BUCKETS, None))
            return cls(tuple(ranges))
        total, acc = sum(a.weight for a in arms), 0
        for arm in arms:
            acc += arm.weight
            ranges.append((held + share * acc // total, arm.name))
        if test_percent is not None:
            ranges.append((BUCKETS, None))
        return cls(tuple(ranges))

    @property
    def undecided(self) -> bool:
        """Winner mode: after the test share, a remainder whose variant is chosen later."""
        arms = [name for _, name in self.ranges if name not in (None, HOLDOUT)]
        return bool(arms) and self.ranges[-1][1] is None

    def group(self, bucket_: int) -> str | None:
        """The group of a bucket."""
        for upper, name in self.ranges:
            if bucket_ < upper:
                return name
        return None


@dataclass(frozen=True, slots=True)
class Variant:
    """One version of a shot: everything it sends, and its weight."""

    name: str
    copy: str
    media_type: str
    media_url: str | None
    buttons: Any
    weight: int

    @property
    def arm(self) -> Arm:
        """Its name and weight."""
        return Arm(self.name, self.weight)


@dataclass(frozen=True, slots=True)
class Goal:
    """A conversion event of a shot and its window."""

    event: str
    window_hours: int = DEFAULT_WINDOW_HOURS


# Every shot follows both, so the reports have its PIX and its sales without any setting.
DEFAULT_GOALS = (Goal("paid"), Goal("pix_created"))
