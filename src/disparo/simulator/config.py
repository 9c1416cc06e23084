"""The simulator's start-up settings (CLI flags); the control API changes some at run time."""

from __future__ import annotations

from dataclasses import dataclass

from disparo.simulator.limits import (
    DEFAULT_PAID_PER_SECOND,
    DEFAULT_PER_CHAT_BURST,
    DEFAULT_PER_CHAT_PER_SECOND,
    DEFAULT_PER_SECOND,
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """How the simulated Telegram behaves until the control API says otherwise."""

    strict_users: bool = False
    latency_ms: float = 40.0
    latency_jitter_ms: float = 10.0
    per_second: int = DEFAULT_PER_SECOND
    paid_per_second: int = DEFAULT_PAID_PER_SECOND
    per_chat_burst: int = DEFAULT_PER_CHAT_BURST
    per_chat_per_second: float = DEFAULT_PER_CHAT_PER_SECOND
    slow_s: float = 15.0
    webhook_timeout_s: float = 10.0
    seed: int | None = None
    log_requests: bool = False
