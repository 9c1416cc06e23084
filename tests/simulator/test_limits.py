"""Flood-control arithmetic on a fake clock: sliding second, token bucket, retry_after."""

from __future__ import annotations

from disparo.simulator.limits import SlidingWindow, TokenBucket, retry_after_s


def test_sliding_window_refuses_the_31st_in_a_second():
    """30 events fit in one second; the 31st waits until the first leaves the window."""
    window = SlidingWindow(30)
    for i in range(30):
        assert window.wait_s(i * 0.01) == 0
        window.record(i * 0.01)
    assert window.wait_s(0.5) == 0.5
    assert window.wait_s(1.0) == 0  # the first event (t=0) has left the window


def test_refused_attempts_do_not_count():
    """Asking many times while full never pushes the next free moment later."""
    window = SlidingWindow(2)
    window.record(0.0)
    window.record(0.1)
    for attempt in range(100):
        assert window.wait_s(0.2 + attempt * 0.001) > 0
    assert window.wait_s(1.0) == 0


def test_token_bucket_takes_a_burst_then_one_per_second():
    """Capacity 3 refilled at 1/s: three at once, the fourth a second later."""
    bucket = TokenBucket(3, 1.0, now=0.0)
    for _ in range(3):
        assert bucket.wait_s(0.0) == 0
        bucket.take()
    assert bucket.wait_s(0.0) == 1.0
    assert bucket.wait_s(0.5) == 0.5
    assert bucket.wait_s(1.0) == 0


def test_retry_after_is_whole_seconds_rounded_up_at_least_one():
    """retry_after is an integer number of seconds, never 0."""
    assert retry_after_s(0.001) == 1
    assert retry_after_s(1.0) == 1
    assert retry_after_s(1.2) == 2
    assert retry_after_s(4.99) == 5
