"""The engine's Prometheus metrics, in the default registry (the API's /metrics serves them
when the worker runs inside `disparo serve`; `disparo worker --metrics-port` serves them alone).

Labels are bot slugs, outcomes and shot ids: never a token. A finished shot's series are
removed so the label set stays bounded.
"""

from __future__ import annotations

import contextlib
from functools import cache

from prometheus_client import Counter, Gauge


class EngineMetrics:
    """Counters and gauges of deliveries, rate limits, in-flight requests and shots."""

    def __init__(self) -> None:
        self.messages = Counter(
            "disparo_messages",
            "Deliveries that reached a final outcome, by bot and outcome "
            "(sent, skipped, error, unknown)",
            ("bot_slug", "outcome"),
        )
        self.requests = Counter(
            "disparo_telegram_requests",
            "Bot API requests the engine made, by bot",
            ("bot_slug",),
        )
        self.rate_limited = Counter(
            "disparo_rate_limited",
            "429 Too Many Requests answers, by bot",
            ("bot_slug",),
        )
        self.in_flight = Gauge(
            "disparo_in_flight_requests",
            "Bot API requests sent and not yet answered, by bot",
            ("bot_slug",),
        )
        self.due_shots = Gauge("disparo_due_shots", "Pending shots whose scheduled time has come")
        self.running_shots = Gauge("disparo_running_shots", "Shots this process is sending now")
        self.shot_audience = Gauge(
            "disparo_shot_audience",
            "Audience size of each shot this process is sending",
            ("bot_slug", "shot_id"),
        )
        self.shot_done = Gauge(
            "disparo_shot_deliveries_done",
            "Deliveries with a final outcome, of each shot this process is sending",
            ("bot_slug", "shot_id"),
        )

    def forget_shot(self, bot_slug: str, shot_id: int) -> None:
        """Drop a shot's progress series once this process stops sending it."""
        for gauge in (self.shot_audience, self.shot_done):
            with contextlib.suppress(KeyError):
                gauge.remove(bot_slug, str(shot_id))


@cache
def engine_metrics() -> EngineMetrics:
    """The process's engine metrics, registered once."""
    return EngineMetrics()
