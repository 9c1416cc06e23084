"""Rate maths: spacing, the sliding-window guard, pauses with one probe, sizes and backoffs."""

from __future__ import annotations

import heapq
import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disparo.domain.pacing import (
    LATE_HOLD_S,
    MAX_IN_FLIGHT,
    MIN_IN_FLIGHT,
    START_EXTRA_S,
    START_SPELL_S,
    JitterGuard,
    Pacer,
    backoff_s,
    batch_size,
    effective_rate,
    in_flight_limit,
    lease_margin_s,
    lease_renew_interval_s,
    server_error_pause_s,
)


def run(pacer: Pacer, count: int, start: float = 0.0) -> list[float]:
    """Send `count` times as early as the pacer allows; the send times."""
    now, times = start, []
    for _ in range(count):
        at = pacer.ready_at()
        assert at is not None
        now = max(now, at)
        probe = pacer.take(now)
        pacer.went(now)
        if probe:
            pacer.answered(probe=True, refused=False)
        times.append(now)
    return times


def test_rate_is_capped_unless_paid_broadcast() -> None:
    """A bot paces at its setting, at most 30/s, or up to 1000/s with paid broadcast."""
    assert effective_rate(25, False) == 25
    assert effective_rate(100, False) == 30
    assert effective_rate(1000, True) == 1000
    assert effective_rate(5000, True) == 1000


def test_sends_are_evenly_spaced() -> None:
    """Consecutive sends are 1/rate apart: no bursts."""
    times = run(Pacer(30, guard_s=0.0), 10)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(math.isclose(gap, 1 / 30) for gap in gaps)


@given(
    rate=st.integers(min_value=1, max_value=60),
    guard=st.floats(min_value=0.0, max_value=0.1),
    count=st.integers(min_value=1, max_value=200),
)
def test_no_window_holds_more_than_rate_sends(rate: int, guard: float, count: int) -> None:
    """Any window of 1 s + guard holds at most `rate` sends, so server jitter up to the guard
    never makes Telegram's sliding second see rate + 1."""
    times = run(Pacer(rate, guard_s=guard), count)
    for i in range(len(times) - rate):
        assert times[i + rate] - times[i] >= 1.0 + guard - 1e-9


def test_guard_costs_little_throughput() -> None:
    """At 30/s with the default guard, 300 sends take about 10 s (within 3 %)."""
    times = run(Pacer(30), 301)
    assert 10.0 <= times[-1] - times[0] <= 10.3


def test_late_sends_earn_no_catch_up_burst() -> None:
    """A send that went late does not let the next ones go closer together."""
    pacer = Pacer(10, guard_s=0.0)
    pacer.take(0.0)
    pacer.went(0.0)
    pacer.take(5.0)  # the loop was busy for 5 s
    pacer.went(5.0)
    assert pacer.ready_at() == 5.1


def test_a_slightly_late_timer_keeps_the_pace() -> None:
    """A send a millisecond late keeps the ideal schedule: oversleeping does not add up."""
    pacer = Pacer(10, guard_s=0.0)
    pacer.take(0.0)
    pacer.went(0.0)
    for n in range(1, 10):
        at = pacer.ready_at()
        assert at is not None
        assert abs(at - n * 0.1) < 1e-9  # the schedule, not the late sends, sets the pace
        pacer.take(at + 0.001)
        pacer.went(at + 0.001)


def late_run(pacer: Pacer, count: int, late_s: float) -> list[float]:
    """Like `run`, but every wake-up comes `late_s` after the moment the pacer allowed."""
    now, times = 0.0, []
    for _ in range(count):
        at = pacer.ready_at()
        assert at is not None
        now = max(now, at + late_s) if at > now else now
        pacer.take(now)
        pacer.went(now)
        times.append(now)
    return times


def test_a_busy_loop_keeps_the_paid_pace() -> None:
    """At 1,000/s a loop that wakes 2 ms late still sends about 1,000 a second (the missed
    slots go back to back), and no second holds more than 1,000."""
    pacer = Pacer(1000, guard_s=0.02)
    times = late_run(pacer, 5001, late_s=0.002)
    assert 5.0 <= times[-1] - times[0] <= 5.2
    for i in range(len(times) - 1000):
        assert times[i + 1000] - times[i] >= 1.0


def test_a_busy_loop_keeps_the_pace_of_a_bot() -> None:
    """At 30/s a loop 15 ms late on every wake-up still sends 300 in about 10 s (restarting
    the schedule at each late wake-up would take 14.5 s)."""
    times = late_run(Pacer(30), 301, late_s=0.015)
    assert 10.0 <= times[-1] - times[0] <= 10.6


def test_the_window_counts_when_requests_really_left() -> None:
    """A request written late pushes the window: the server never sees rate + 1 in 1 s."""
    pacer = Pacer(3, guard_s=0.0)
    for t in (0.0, 1 / 3, 2 / 3):
        pacer.take(t)
    pacer.went(0.05)  # the first one left 50 ms after its slot
    pacer.went(1 / 3)
    pacer.went(2 / 3)
    assert pacer.ready_at() == 1.05


def test_granted_but_unwritten_slots_count() -> None:
    """Slots granted and not yet written hold their place in the window."""
    pacer = Pacer(2, guard_s=0.0)
    pacer.take(0.0)
    pacer.take(0.5)
    assert pacer.ready_at() is None  # both pending: wait until one is written
    pacer.went(0.6)  # one left at 0.6, the other will leave later still
    assert pacer.ready_at() == 1.6


def test_pause_then_one_probe_then_resume() -> None:
    """After a 429 nothing goes until the pause ends; then one probe, and the rest wait."""
    pacer = Pacer(30)
    pacer.take(0.0)
    pacer.pause(0.1, 5.0)
    assert pacer.ready_at() == 5.1
    assert pacer.take(5.1) is True  # the probe
    assert pacer.ready_at() is None
    pacer.answered(probe=True, refused=False)
    at = pacer.ready_at()
    assert at is not None
    assert pacer.take(at) is False


def test_refused_probe_keeps_probing() -> None:
    """A probe answered 429 pauses again and the next send is again a lone probe."""
    pacer = Pacer(30)
    pacer.pause(0.0, 1.0)
    assert pacer.take(1.0)
    pacer.pause(1.05, 2.0)
    pacer.answered(probe=True, refused=True)
    assert pacer.ready_at() == 3.05
    assert pacer.take(3.05)


def test_answers_of_ordinary_sends_do_not_end_a_probe() -> None:
    """Only the probe's answer lets the others go again."""
    pacer = Pacer(30)
    pacer.pause(0.0, 1.0)
    pacer.take(1.0)
    pacer.answered(probe=False, refused=False)
    assert pacer.ready_at() is None


def test_sizes() -> None:
    """Batches hold about a second of traffic; in-flight follows rate x latency, bounded."""
    assert batch_size(30) == 30
    assert batch_size(0.5) == 1
    assert in_flight_limit(30, 0.02) == MIN_IN_FLIGHT
    assert in_flight_limit(1000, 0.1) == 202
    assert in_flight_limit(1000, 10) == MAX_IN_FLIGHT


def test_backoffs_grow_and_are_capped() -> None:
    """Retries back off exponentially with jitter; server-error pauses start after a streak."""
    assert backoff_s(1, 0.5) == 0.5
    assert backoff_s(2, 0.5) == 1.0
    assert backoff_s(30, 0.99) <= 12.0
    assert 0.4 <= backoff_s(1, 0.0) <= backoff_s(1, 0.99) <= 0.6
    assert server_error_pause_s(2) == 0
    assert server_error_pause_s(3) == 1
    assert server_error_pause_s(50) == 30


def test_lease_timing() -> None:
    """A 30 s lease is renewed every 5 s and sending stops 6 s before it would expire."""
    assert lease_renew_interval_s(30) == 5
    assert lease_margin_s(30) == 6
    assert lease_renew_interval_s(5) == 1


def test_short_429_widens_the_guard_and_quiet_time_shrinks_it() -> None:
    """A 429 with retry_after 1 s doubles the guard; quiet periods bring it back down."""
    pacer = Pacer(30, guard_s=0.02)
    pacer.rate_limited(0.0, 1.0)
    assert pacer.guard.value_s == 0.04
    assert pacer.paused_until == 1.05
    pacer.rate_limited(0.5, 1.0)  # the same incident: no further widening
    assert pacer.guard.value_s == 0.04
    pacer.rate_limited(3.0, 1.0)
    assert pacer.guard.value_s == 0.08
    times = run(pacer, 30 * 25, start=5.0)
    assert pacer.guard.value_s < 0.08
    for i in range(len(times) - 30):
        assert times[i + 30] - times[i] >= 1.02 - 1e-9  # never below the configured guard


def test_one_bots_429_widens_the_guard_of_every_bot() -> None:
    """Bots of one process share the guard: jitter is a property of the path to Telegram."""
    guard = JitterGuard(0.02)
    first, second = Pacer(30, guard=guard), Pacer(30, guard=guard)
    first.rate_limited(0.0, 1.0)
    assert second.guard.value_s == 0.04
    times = run(second, 31)
    assert times[30] - times[0] >= 1.04 - 1e-9


def test_long_retry_after_does_not_widen_the_guard() -> None:
    """A flood ban or a storm (retry_after of several seconds) pauses without widening."""
    pacer = Pacer(30, guard_s=0.02)
    pacer.rate_limited(0.0, 5.0)
    assert pacer.guard.value_s == 0.02
    assert pacer.paused_until == 5.05


def answer_all(guard: JitterGuard, start: float, seconds: float, latency_s: float) -> float:
    """Answers every 5 ms for `seconds` from `start`, all `latency_s` after their requests."""
    now = start
    while now < start + seconds:
        guard.answered(now, latency_s)
        guard.settle(now)
        now += 0.005
    return now


def test_answers_late_together_widen_the_guard_while_their_requests_count() -> None:
    """A spell of answers 35 ms later than usual adds twice that to the guard (some of its
    requests were held longer than its median), for as long as the requests behind them may
    stay in the server's windows; then the guard is the base again."""
    guard = JitterGuard(0.02)
    now = answer_all(guard, 0.0, 1.0, 0.040)
    assert guard.value_s == 0.02
    now = answer_all(guard, now, 0.2, 0.075)
    assert math.isclose(guard.value_s, 0.02 + 2 * 0.035)  # the first late bucket, the largest
    now = answer_all(guard, now, LATE_HOLD_S - 0.2, 0.040)
    assert math.isclose(guard.value_s, 0.09)  # the delayed requests may still count
    answer_all(guard, now, 0.5, 0.040)
    assert guard.value_s == 0.02


def test_scattered_late_answers_leave_the_guard_alone() -> None:
    """One answer in five 50 ms late is jitter of single requests, not a stall: no widening."""
    guard = JitterGuard(0.02)
    for i in range(2000):
        guard.answered(i * 0.005, 0.090 if i % 5 == 0 else 0.040)
        assert guard.value_s == 0.02


def test_windows_begun_while_a_bot_starts_close_later_once() -> None:
    """Requests written in a start-up spell begin windows START_EXTRA_S longer: the bot's
    schedule shifts once, and the windows begun after the spell have the plain guard."""
    guard = JitterGuard(0.02)
    guard.starting(0.0)
    times = run(Pacer(30, guard=guard), 91)
    assert times[29] < START_SPELL_S + 1.0  # the first window's sends: at the pace
    assert math.isclose(times[30] - times[0], 1.0 + 0.02 + START_EXTRA_S)
    spell_ends = next(i for i, t in enumerate(times) if t >= START_SPELL_S)
    for i in range(spell_ends, 61):
        assert times[i + 30] - times[i] >= 1.02 - 1e-9
    assert times[90] - times[60] < 1.02 + START_EXTRA_S


def test_a_bot_already_sending_keeps_its_schedule_when_another_starts() -> None:
    """Another bot of the process starting 5 s in shifts nothing of a bot sending since 0 s."""
    guard = JitterGuard(0.02)
    sending, alone = Pacer(30, guard=guard), Pacer(30)
    for pacer in (sending, alone):
        pacer.went(0.0)  # both began before the start below
    guard.starting(5.0)
    assert run(sending, 60, start=5.0) == run(alone, 60, start=5.0)


@pytest.mark.parametrize("bots", [1, 20, 100])
def test_answers_of_the_usual_spread_leave_the_guard_alone(bots: int) -> None:
    """A minute of answers 30-50 ms after their requests, plus a few ms of loop delay: a
    median of a few answers (one bot's 16 take half a second) wanders, and must not read as a
    stall."""
    guard, rng = JitterGuard(0.02), random.Random(7)
    for i in range(30 * bots * 60):
        now = i / (30 * bots)
        guard.answered(now, rng.uniform(0.030, 0.050) + rng.expovariate(1 / 0.003))
        guard.settle(now)
        assert guard.value_s == 0.02, f"widened at {now:.2f} s"


def stalled_server(*, bots: int, feed_answers: bool) -> int:
    """`bots` at 30/s sharing one guard; the server is busy from 1.5 s to 1.7 s (what is
    written meanwhile is counted 25 ms late) and answers 40 ms after counting. How many
    requests the server's sliding second would refuse."""
    guard = JitterGuard(0.02)
    pacers = [Pacer(30, guard=guard) for _ in range(bots)]
    starts = [bot * 0.034 / bots for bot in range(bots)]  # spread as a worker's ramp spreads them
    stamps: list[list[float]] = [[] for _ in pacers]
    answers: list[tuple[float, float]] = []  # (answered at, latency), a heap
    for _ in range(100):
        for bot, pacer in enumerate(pacers):
            at = max(pacer.ready_at() or 0.0, starts[bot])
            while feed_answers and answers and answers[0][0] <= at:
                answered_at, latency = heapq.heappop(answers)
                guard.answered(answered_at, latency)
                at = max(pacer.ready_at() or 0.0, starts[bot])
            pacer.take(at)
            pacer.went(at)
            stamp = at + 0.025 if 1.5 <= at < 1.7 else at
            stamps[bot].append(stamp)
            heapq.heappush(answers, (stamp + 0.04, stamp + 0.04 - at))
            starts[bot] = at
    return sum(
        sum(1 for i in range(30, len(ordered)) if ordered[i] - ordered[i - 30] < 1.0)
        for ordered in map(sorted, stamps)
    )


@pytest.mark.parametrize("bots", [20, 100])
def test_a_stall_at_the_server_costs_no_refusal(bots: int) -> None:
    """Requests counted 25 ms late for 200 ms crowd the second after them (the 20 ms guard
    covers less); their late answers widen the guard in time, and no window holds 31."""
    assert stalled_server(bots=bots, feed_answers=False) > 0
    assert stalled_server(bots=bots, feed_answers=True) == 0
