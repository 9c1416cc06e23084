"""A python-telegram-bot broadcast with `AIORateLimiter` at its defaults, as a baseline.

The pattern PTB documents for flood limits: give the application an `AIORateLimiter()` (30
requests/s overall, `max_retries=0`) and send every message concurrently; the limiter paces
them. With `max_retries=0` a 429 reaches the caller, so the loop sleeps `retry_after` and
sends that recipient again, as a user of the library would. The base URL points at the
simulator (`Application.builder().base_url(f"{sim}/bot")`).
"""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from collections.abc import Sequence

from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total() if callable(total) else value)  # type: ignore[arg-type]


async def ptb_broadcast(sim: str, token: str, chat_ids: Sequence[int], text: str) -> Counter[str]:
    """Send `text` to every chat through PTB with its rate limiter; outcomes counted."""
    warnings.filterwarnings("ignore", module="telegram")  # retry_after's int deprecation
    application = (
        Application.builder()
        .token(token)
        .base_url(f"{sim}/bot")
        .rate_limiter(AIORateLimiter())
        .build()
    )
    counts: Counter[str] = Counter()

    async def send(chat_id: int) -> None:
        while True:
            try:
                await application.bot.send_message(chat_id, text, parse_mode="HTML")
            except RetryAfter as exc:
                counts["429"] += 1
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except Forbidden:
                counts["skipped"] += 1
            except TelegramError:
                counts["error"] += 1
            else:
                counts["sent"] += 1
            return

    async with application:
        await asyncio.gather(*(send(chat_id) for chat_id in chat_ids))
    return counts
