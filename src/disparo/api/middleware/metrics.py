"""Prometheus: GET /metrics (the default registry, so the engine's metrics show up when it runs
in the same process) and HTTP request counters labelled by route template and status.

With DISPARO_METRICS_TOKEN set, /metrics answers only requests bearing it (it shows bot slugs
and volumes).
"""

from __future__ import annotations

import hmac
import time
from functools import cache

from fastapi import APIRouter, Request, Response
from fastapi.security.utils import get_authorization_scheme_param
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from disparo.api.errors import ApiError, described

router = APIRouter(tags=["health"])

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """The HTTP metrics; labels hold the route template, never a path value or a token."""

    def __init__(self) -> None:
        self.requests = Counter(
            "disparo_http_requests",
            "HTTP requests answered, by method, route template and status",
            ("method", "route", "status"),
        )
        self.duration = Histogram(
            "disparo_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ("method", "route"),
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )


@cache
def http_metrics() -> HttpMetrics:
    """The process's HTTP metrics, registered once in the default registry."""
    return HttpMetrics()


class MetricsMiddleware:
    """Counts every HTTP request by its route template (`unmatched` when no route matched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.metrics = http_metrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.duration.labels(method, template).observe(time.perf_counter() - started)


def _check_token(request: Request) -> None:
    """Refuse (401) a request without the metrics token, when one is configured."""
    expected: bytes | None = request.app.state.metrics_token
    if expected is None:
        return
    scheme, given = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
        raise ApiError(
            401,
            "unauthorized",
            "send the metrics token as 'Authorization: Bearer <DISPARO_METRICS_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}},
        **described(401, "DISPARO_METRICS_TOKEN is set and the request does not bear it"),
    },
)
async def metrics(request: Request) -> Response:
    """Every metric of this process in Prometheus text format; with DISPARO_METRICS_TOKEN set,
    only for `Authorization: Bearer <DISPARO_METRICS_TOKEN>`."""
    _check_token(request)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
