"""What the HTTP layer hands the simulated Telegram (a request's parts) and what it gets back
(an answer, its delay, or the order to close the connection without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

JSON = "application/json"


@dataclass(slots=True)
class Request:
    """One HTTP request: method, path, raw query string, headers and the whole body."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(slots=True)
class Response:
    """What to answer, after `delay_s`; `drop` closes the connection without answering."""

    status: int
    body: bytes
    content_type: str = JSON
    delay_s: float = 0.0
    drop: bool = False
