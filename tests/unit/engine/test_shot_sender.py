"""One sender over the in-memory store and a fake bot, on the fake clock: pacing at the limit,
429 pauses and probes, retries of 5xx, unknown after a timeout, content errors."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from engine_fakes import (
    FakeBot,
    Request,
    bad_html,
    no_answer,
    no_connection,
    send_shot,
    server_error,
    stocked_store,
    too_many_requests,
)

from disparo.domain import outcomes, pacing
from disparo.domain.statuses import DeliveryStatus, ShotStatus
from disparo.engine.clock import FakeClock

EPS = 1e-9


async def test_a_bot_is_paced_at_its_limit_never_above(clock: FakeClock) -> None:
    """100 recipients at 25/s: one request every 40 ms, never 26 in a second (plus the 20 ms
    guard), and no slower than that: 4.05 s from the first to the last (the windows begun
    while the bot starts close 30 ms later)."""
    store, shot_id = stocked_store(clock, contacts=100)
    bot = FakeBot(clock)
    await send_shot(store, clock, bot, rate_per_s=25)
    times = [r.at for r in bot.written()]
    assert len(times) == 100
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1 / 25 - EPS
    window = 1.0 + pacing.DEFAULT_GUARD_S
    assert min(b - a for a, b in zip(times, times[25:], strict=False)) >= window - EPS
    shift = pacing.START_EXTRA_S
    assert times[-1] - times[0] == pytest.approx(99 / 25 + 3 * pacing.DEFAULT_GUARD_S + shift)
    assert store.counts(shot_id) == {"sent": 100}
    assert bot.delivered() == dict.fromkeys(range(1, 101), 1)
    assert store.shots[shot_id].status is ShotStatus.SENT


async def test_answers_late_together_widen_the_window_guard(clock: FakeClock) -> None:
    """Requests 61-90 are answered 60 ms later than the others (a stall on the way): the
    sender reports every answer to the process's guard, which stretches the windows by twice
    that while those requests may still count, then comes back to the base."""
    store, shot_id = stocked_store(clock, contacts=200)
    guard = pacing.JitterGuard()
    seen: list[tuple[float, float]] = []  # (written at, the guard then)

    def on_request(request: Request) -> None:
        bot.latency_s = 0.10 if 60 < request.n <= 90 else 0.04
        seen.append((request.at, guard.value_s))

    bot = FakeBot(clock, on_request=on_request)
    await send_shot(store, clock, bot, rate_per_s=30, guard=guard)
    guards = [g for _at, g in seen]
    assert guards[0] == guards[-1] == pacing.DEFAULT_GUARD_S
    assert max(guards) == pytest.approx(pacing.DEFAULT_GUARD_S + 2 * 0.06)
    widened = [at for at, g in seen if g > pacing.DEFAULT_GUARD_S]
    last_late = bot.requests[89].answered_at
    assert last_late is not None
    assert widened[0] > bot.requests[60].at  # not before late answers came
    bucket_s = pacing.LATE_BUCKET_MIN / 30  # the last late answer's bucket closes this late
    assert widened[-1] <= last_late + bucket_s + pacing.LATE_HOLD_S + EPS
    times = [at for at, _g in seen]
    window = 1.0 + max(guards)
    assert all(
        b - a >= window - EPS
        for a, b in zip(times, times[30:], strict=False)
        if widened[0] + window <= b <= widened[-1]
    )
    assert store.counts(shot_id) == {"sent": 200}


async def test_a_429_pauses_the_bot_then_one_probe_goes_alone(clock: FakeClock) -> None:
    """The 30th request is refused with retry_after 2: nothing is written for 2 s (and the
    margin) after that answer, then one probe, alone; the pace resumes after its answer, and
    the refused recipient gets the shot once."""
    store, shot_id = stocked_store(clock, contacts=80)

    def rule(request: Request) -> Exception | None:
        return too_many_requests(2) if request.n == 30 else None

    bot = FakeBot(clock, rule=rule)
    await send_shot(store, clock, bot)
    refused = bot.requests[29]
    assert refused.answered_at is not None
    after = [r for r in bot.requests if r.at > refused.at]
    in_flight_then = [r for r in after if r.at < refused.answered_at]
    probe, *rest = [r for r in after if r.at >= refused.answered_at]
    assert probe.at >= refused.answered_at + pacing.rate_limit_pause_s(2) - EPS
    assert probe.in_flight == 0  # what was in flight at the refusal had been answered
    assert probe.answered_at is not None
    assert rest[0].at >= probe.answered_at  # the next waited for the probe's answer
    assert len(in_flight_then) <= pacing.in_flight_limit(25, 0.05)
    assert [r.failed for r in bot.requests].count("TelegramAPIError") == 1
    assert bot.delivered() == dict.fromkeys(range(1, 81), 1)
    assert store.counts(shot_id) == {"sent": 80}


@pytest.mark.parametrize(
    "failure",
    [server_error, no_connection, no_answer],
    ids=["5xx", "no_connection", "no_answer"],
)
async def test_a_probe_that_tells_nothing_is_followed_by_another_probe(
    clock: FakeClock, failure: Callable[[], Exception]
) -> None:
    """The probe after a 429's pause meets a fault that says nothing of the rate limit (a 5xx,
    no connection, no answer in time): the next request is a probe too, sent alone after it,
    and the pace resumes only after a probe passes."""
    store, shot_id = stocked_store(clock, contacts=60)
    probe_n: list[int] = []

    def rule(request: Request) -> Exception | None:
        if request.n == 20:
            return too_many_requests(1)
        refused_at = bot.requests[19].answered_at if request.n > 20 else None
        if not probe_n and refused_at is not None and request.at >= refused_at + 1.0:
            probe_n.append(request.n)  # the first request after the pause: the probe
            return failure()
        return None

    bot = FakeBot(clock, rule=rule)
    await send_shot(store, clock, bot)
    first = bot.requests[probe_n[0] - 1]
    second, third = bot.requests[probe_n[0] : probe_n[0] + 2]
    assert first.answered_at is not None
    assert second.at >= first.answered_at  # another probe, after the faulty one's answer
    assert second.in_flight == 0
    assert second.failed is None
    assert second.answered_at is not None
    assert third.at >= second.answered_at  # the pace resumed only after a probe passed
    counts = store.counts(shot_id)
    assert counts.get("sent", 0) + counts.get("unknown", 0) == 60
    assert counts.get("unknown", 0) == (1 if failure is no_answer else 0)
    assert max(bot.delivered().values()) == 1


async def test_5xx_are_retried_with_backoff_then_given_up(clock: FakeClock) -> None:
    """Chat 7 fails twice with 502 and is sent on its third try, 0.5 s then 1 s (±20 %) after
    each failure; chat 9 fails three times and ends `error` with Telegram's description."""
    store, shot_id = stocked_store(clock, contacts=20)
    failures = {7: 2, 9: 3}

    def rule(request: Request) -> Exception | None:
        if failures.get(request.chat_id, 0) > 0:
            failures[request.chat_id] -= 1
            return server_error()
        return None

    bot = FakeBot(clock, rule=rule)
    await send_shot(store, clock, bot)
    first, second, third = bot.to(7)
    assert first.answered_at is not None
    assert second.answered_at is not None
    assert 0.4 - EPS <= second.at - first.answered_at <= 0.6 + 1 / 25
    assert 0.8 - EPS <= third.at - second.answered_at <= 1.2 + 1 / 25
    assert len(bot.to(9)) == outcomes.MAX_TRANSIENT_TRIES == 3
    by_chat = {d.telegram_id: d for d in store.shot_deliveries(shot_id)}
    assert (by_chat[7].status, by_chat[7].attempts) == (DeliveryStatus.SENT, 3)
    assert by_chat[9].status is DeliveryStatus.ERROR
    assert by_chat[9].error == "Bad Gateway (gave up after 3 tries)"
    assert store.counts(shot_id) == {"sent": 19, "error": 1}


async def test_no_answer_after_sending_is_unknown_and_never_retried(clock: FakeClock) -> None:
    """A request that got no answer in time may have been delivered: `unknown` (timeout),
    and its recipient is never asked again."""
    store, shot_id = stocked_store(clock, contacts=10)
    bot = FakeBot(clock, rule=lambda r: no_answer() if r.chat_id == 5 else None)
    await send_shot(store, clock, bot)
    assert len(bot.to(5)) == 1
    by_chat = {d.telegram_id: d for d in store.shot_deliveries(shot_id)}
    assert (by_chat[5].status, by_chat[5].reason) == (DeliveryStatus.UNKNOWN, "timeout")
    assert store.counts(shot_id) == {"sent": 9, "unknown": 1}
    assert store.shots[shot_id].status is ShotStatus.SENT


async def test_a_content_error_stops_the_shot_and_keeps_the_rest_pending(
    clock: FakeClock,
) -> None:
    """Telegram refuses the copy's HTML: the shot ends `error` saying what to fix after the
    requests already in flight, reserved-but-unsent deliveries go back to pending."""
    store, shot_id = stocked_store(clock, contacts=200, rate_per_s=30)
    bot = FakeBot(clock, rule=lambda r: bad_html())
    await send_shot(store, clock, bot, rate_per_s=30)
    shot = store.shots[shot_id]
    assert shot.status is ShotStatus.ERROR
    assert shot.last_error is not None
    assert "fix the HTML" in shot.last_error
    assert shot.locked_by is None
    requests = len(bot.requests)
    assert requests <= pacing.in_flight_limit(30, 0.05) + 1
    assert store.counts(shot_id) == {"error": requests, "pending": 200 - requests}


@pytest.mark.parametrize(
    "failure",
    [no_connection, server_error, lambda: too_many_requests(1)],
    ids=["no_connection", "5xx", "429"],
)
async def test_the_last_delivery_failing_once_is_retried_not_left_unknown(
    clock: FakeClock, failure: Callable[[], Exception]
) -> None:
    """The shot's last request fails once (no connection, a 502, a 429) after every other
    answer came back: it is retried and sent, never recorded `unknown` nor lost."""
    store, shot_id = stocked_store(clock, contacts=30)
    failed: list[int] = []

    def rule(request: Request) -> Exception | None:
        if request.chat_id == 30 and not failed:
            failed.append(request.n)
            return failure()
        return None

    bot = FakeBot(clock, rule=rule)
    await send_shot(store, clock, bot, rate_per_s=20)
    first, retry = bot.to(30)
    assert first.n == 30  # the last of the shot
    assert all(r.answered_at is not None and r.answered_at <= first.at for r in bot.requests[:28])
    assert retry.failed is None
    assert store.counts(shot_id) == {"sent": 30}
    assert store.shots[shot_id].status is ShotStatus.SENT
