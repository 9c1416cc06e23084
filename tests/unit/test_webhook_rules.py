"""Outgoing webhooks' pure rules: receiver URLs, event lists, signatures, backoff."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from disparo.domain.webhooks import (
    events_list,
    events_text,
    iso,
    next_attempt,
    retry_delay_s,
    sign,
    signature_matches,
    url_problem,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.com/hooks/disparo",
        "https://10.0.0.5:8443/h?x=1",
        "http://localhost:8080/h",
        "http://127.0.0.1:9/h",
        "http://[::1]:9/h",
    ],
)
def test_accepted_urls(url: str) -> None:
    """https anywhere; http only to this machine."""
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://crm.example.com/h", "must use https"),
        ("http://10.0.0.5/h", "must use https"),
        ("ftp://crm.example.com/h", "https://"),
        ("https:///nohost", "with a host"),
        ("crm.example.com/h", "https://"),
        ("https://a:b@crm.example.com/h", "password"),
        ("https://crm.example.com:99999/h", "port"),
        ("https://x.example.com/" + "a" * 2100, "longer"),
    ],
)
def test_refused_urls(url: str, says: str) -> None:
    """Each refusal says why."""
    problem = url_problem(url)
    assert problem is not None
    assert says in problem


def test_events_are_stored_once_each_in_a_fixed_order() -> None:
    """Duplicates drop out; the stored text reads back as the list."""
    stored = events_text(["conversion", "shot.started", "conversion"])
    assert stored == "shot.started,conversion"
    assert events_list(stored) == ["shot.started", "conversion"]


def test_the_signature_is_an_hmac_of_timestamp_and_body() -> None:
    """t=<unix>,v1=<hex HMAC-SHA256 of "t.body">, and the check refuses any change."""
    body = b'{"id":"evt_1","type":"conversion"}'
    header = sign("whsec_k", 1_700_000_000, body)
    digest = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={digest}"
    assert signature_matches("whsec_k", header, body, now=1_700_000_100, tolerance_s=300)
    assert not signature_matches("whsec_k", header, body + b" ", now=1_700_000_100, tolerance_s=300)
    assert not signature_matches("other", header, body, now=1_700_000_100, tolerance_s=300)
    assert not signature_matches("whsec_k", header, body, now=1_700_000_400, tolerance_s=300)
    assert not signature_matches("whsec_k", "v1=abc", body, now=1_700_000_000, tolerance_s=300)


def test_the_backoff_doubles_up_to_its_cap_times_the_jitter() -> None:
    """30 s, 60 s, 120 s, ... at most the cap; the jitter scales it."""
    delays = [retry_delay_s(n, base_s=30, max_s=7200, jitter=1.0) for n in range(1, 11)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3840, 7200, 7200]
    assert retry_delay_s(2, base_s=30, max_s=7200, jitter=0.8) == pytest.approx(48)
    assert retry_delay_s(500, base_s=30, max_s=7200, jitter=1.0) == 7200


def test_no_next_attempt_past_the_window() -> None:
    """A try that would fall more than 24 h after the event is not scheduled."""
    created = datetime(2026, 12, 1, 12, tzinfo=UTC)
    now = created + timedelta(hours=22)
    assert next_attempt(created, now, 7200) == created + timedelta(hours=24)
    assert next_attempt(created, now, 7201) is None


def test_times_are_utc_with_milliseconds() -> None:
    """Event times read the same whatever zone they were made in."""
    at = datetime(2026, 12, 1, 9, 30, 5, 123456, tzinfo=UTC)
    assert iso(at) == "2026-12-01T09:30:05.123Z"
