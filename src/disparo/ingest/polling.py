"""Long polling (getUpdates) for bots without a public URL, feeding the webhook's handler.

One task per polling bot; a supervisor starts and stops them as bots are registered, changed
or removed. The offset is stored in bots.updates_offset in the transaction that applies the
batch, so a restart neither loses nor re-applies updates. Run polling in one process only:
Telegram ends a getUpdates when another one starts for the same bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from disparo.db.bots import BotRecord, list_bots, set_updates_offset
from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.ingest.updates import ALLOWED_UPDATES, apply_updates
from disparo.telegram import BotAPI, Conflict, TelegramError, Unauthorized, mask_token

log = logging.getLogger("disparo.ingest.polling")

MAX_BACKOFF_S = 30.0
# An empty answer is followed by the next getUpdates no sooner than this after the last one
# began: a long poll that waited its timeout goes on at once, a server that ignores `timeout`
# (or a proxy that cuts it short) is asked at most once a second instead of in a busy loop.
MIN_EMPTY_POLL_S = 1.0


def empty_poll_pause_s(elapsed_s: float) -> float:
    """The wait after an empty getUpdates answer that came back `elapsed_s` after its call."""
    return max(0.0, MIN_EMPTY_POLL_S - elapsed_s)


class Poller:
    """Fetches the updates of every polling bot (or of every bot with `every_bot`)."""

    def __init__(
        self,
        db: Database,
        telegram: BotAPI,
        cipher: TokenCipher,
        clock: Callable[[], datetime],
        *,
        every_bot: bool = False,
        long_poll_s: int = 25,
        refresh_s: float = 5.0,
    ) -> None:
        self.db = db
        self.telegram = telegram
        self.cipher = cipher
        self.clock = clock
        self.every_bot = every_bot
        self.long_poll_s = long_poll_s
        self.refresh_s = refresh_s
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Keep one polling task per polling bot until cancelled."""
        try:
            while True:
                try:
                    await self._refresh()
                except Exception as exc:  # the database may be down for a while
                    log.warning("polling: cannot list bots: %s", type(exc).__name__)
                await asyncio.sleep(self.refresh_s)
        finally:
            await self._stop_all()

    async def _refresh(self) -> None:
        async with self.db.read() as conn:
            bots = await list_bots(conn, self.cipher)
        wanted = {(b.slug, b.token): b for b in bots if self.every_bot or b.polling}
        for key, task in list(self._tasks.items()):
            if task.done():  # it failed (say, the database was down): start it again
                del self._tasks[key]
                if not task.cancelled() and (exc := task.exception()) is not None:
                    log.warning(
                        "polling stopped: %s", type(exc).__name__, extra={"bot_slug": key[0]}
                    )
            elif key not in wanted:
                del self._tasks[key]
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for key, bot in wanted.items():
            if key not in self._tasks:
                self._tasks[key] = asyncio.create_task(self._poll(bot), name=f"poll-{bot.slug}")

    async def _stop_all(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll(self, bot: BotRecord) -> None:
        """Fetch and apply this bot's updates until cancelled."""
        handle = self.telegram.bot(bot.token)
        where = {"bot_slug": bot.slug, "bot": mask_token(bot.token)}
        offset = bot.updates_offset
        failures = 0
        webhook_removed = False
        log.info("polling started", extra=where)
        loop = asyncio.get_running_loop()
        while True:
            asked_at = loop.time()
            try:
                if not webhook_removed:
                    await handle.delete_webhook()
                    webhook_removed = True
                updates = await handle.get_updates(
                    offset=offset, timeout=self.long_poll_s, allowed_updates=ALLOWED_UPDATES
                )
            except TelegramError as exc:
                failures += 1
                webhook_removed = webhook_removed and not isinstance(exc, Conflict)
                delay_s = (
                    60.0 if isinstance(exc, Unauthorized) else min(MAX_BACKOFF_S, 0.5 * 2**failures)
                )
                log.warning("polling failed: %s", exc.message, extra=where)
                await asyncio.sleep(delay_s)
                continue
            failures = 0
            if not updates:
                pause_s = empty_poll_pause_s(loop.time() - asked_at)
                if pause_s > 0:
                    await asyncio.sleep(pause_s)
                continue
            offset = max(u["update_id"] for u in updates) + 1
            async with self.db.write() as conn:
                await apply_updates(conn, bot.slug, updates, now=self.clock())
                await set_updates_offset(conn, bot.slug, offset)


@asynccontextmanager
async def polling(poller: Poller) -> AsyncIterator[None]:
    """Run `poller` in the background for the duration of the block."""
    task = asyncio.create_task(poller.run(), name="polling")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
