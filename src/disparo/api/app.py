"""The FastAPI application factory: routes, error shape, body limits, metrics, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from disparo import __version__
from disparo.api.clicks import Redirects
from disparo.api.deps import Clock, utc_now
from disparo.api.errors import install_error_handlers
from disparo.api.import_jobs import ImportJobs
from disparo.api.middleware import metrics
from disparo.api.middleware.auth import AdminAuthMiddleware
from disparo.api.middleware.limits import BodyLimitMiddleware
from disparo.api.routes import audiences as routes_audiences
from disparo.api.routes import bot_report as routes_bot_report
from disparo.api.routes import bots as routes_bots
from disparo.api.routes import contacts as routes_contacts
from disparo.api.routes import conversions as routes_conversions
from disparo.api.routes import health, redirect, webhook
from disparo.api.routes import import_jobs as routes_import_jobs
from disparo.api.routes import imports as routes_imports
from disparo.api.routes import jobs as routes_jobs
from disparo.api.routes import reports as routes_reports
from disparo.api.routes import shots as routes_shots
from disparo.api.routes import templates as routes_templates
from disparo.api.routes import webhooks as routes_webhooks
from disparo.config import Settings
from disparo.db.engine import Database
from disparo.db.links import LinkSource
from disparo.db.secrets import TokenCipher
from disparo.db.updates import forget_updates_before
from disparo.ingest.polling import Poller, polling
from disparo.telegram import BotAPI
from disparo.web import api_docs
from disparo.web.routes import mount as mount_admin_page

log = logging.getLogger("disparo.api")

PROCESSED_UPDATES_KEPT = timedelta(days=2)  # Telegram stops retrying an update after a day
HOUSEKEEPING_EVERY_S = 3600.0

Background = Callable[[], AbstractAsyncContextManager[None]]

DESCRIPTION = """Mass broadcasts (shots) to the contacts of Telegram bots.

Every `/admin/api` route needs `Authorization: Bearer <DISPARO_ADMIN_TOKEN>`. Every error is
`{"error": {"code", "message", "field"?}}`. Times are ISO 8601; those sent must carry an offset.
"""


async def _forget_old_updates(db: Database, clock: Clock) -> None:
    while True:
        try:
            async with db.write() as conn:
                await forget_updates_before(conn, clock() - PROCESSED_UPDATES_KEPT)
        except Exception as exc:  # the database may be down; try again next time
            log.warning("could not prune processed updates: %s", type(exc).__name__)
        await asyncio.sleep(HOUSEKEEPING_EVERY_S)


@asynccontextmanager
async def _housekeeping(db: Database, clock: Clock) -> AsyncIterator[None]:
    task = asyncio.create_task(_forget_old_updates(db, clock), name="housekeeping")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(
    db: Database,
    settings: Settings,
    *,
    telegram: BotAPI,
    cipher: TokenCipher,
    clock: Clock = utc_now,
    background: Sequence[Background] = (),
    poll_every_bot: bool = False,
    long_poll_s: int = 25,
    poll_refresh_s: float = 5.0,
) -> FastAPI:
    """Build the HTTP application on an opened database and an unstarted Bot API client.

    The lifespan starts the client, the long-polling supervisor, the pruning of processed
    updates, the import jobs (failing those a stopped process left), and then each of
    `background` (e.g. the engine, in `disparo serve`).
    """
    admin_token = settings.require_admin_token().get_secret_value().encode()
    poller = Poller(
        db,
        telegram,
        cipher,
        clock,
        every_bot=poll_every_bot,
        long_poll_s=long_poll_s,
        refresh_s=poll_refresh_s,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(telegram)
            await stack.enter_async_context(polling(poller))
            await stack.enter_async_context(_housekeeping(db, clock))
            await stack.enter_async_context(app.state.import_jobs.running())
            if settings.public_url:
                app.state.redirects = Redirects(db, LinkSource(db, settings.public_url), clock)
                await stack.enter_async_context(app.state.redirects.running())
            for start in background:
                await stack.enter_async_context(start())
            yield

    # No /docs or /redoc from FastAPI: they load their code from a CDN. No trailing-slash
    # redirects either: Starlette builds their Location from the client's Host header.
    app = FastAPI(
        title="Disparo",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.db = db
    app.state.redirects = None  # click tracking: set by the lifespan with DISPARO_PUBLIC_URL
    app.state.settings = settings
    app.state.telegram = telegram
    app.state.cipher = cipher
    app.state.clock = clock
    app.state.import_jobs = ImportJobs(db, clock)
    app.state.admin_token = admin_token
    app.state.metrics_token = (
        settings.metrics_token.get_secret_value().encode() if settings.metrics_token else None
    )
    install_error_handlers(app)
    # Outermost last: metrics see every answer; the token is checked before a body is read.
    app.add_middleware(BodyLimitMiddleware, read_timeout_s=settings.http_read_timeout_s)
    app.add_middleware(AdminAuthMiddleware, token=admin_token)
    app.add_middleware(metrics.MetricsMiddleware)

    # Each admin router carries the full prefix and the token check itself, so that the
    # route template Starlette records (metrics labels) is the whole path.
    for router in (
        routes_templates,
        routes_shots,
        routes_reports,
        routes_conversions,
        routes_bots,
        routes_imports,
        routes_import_jobs,
        routes_audiences,
        routes_contacts,
        routes_bot_report,
        routes_jobs,
        routes_webhooks,
    ):
        app.include_router(router.router)
    app.include_router(webhook.router)
    app.include_router(redirect.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    mount_admin_page(app)
    if settings.api_docs:
        api_docs.mount(app)
    return app
