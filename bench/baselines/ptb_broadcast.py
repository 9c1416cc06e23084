"""A python-telegram-bot broadcast with `AIORateLimiter` at its defaults, as a baseline.

The pattern PTB documents for flood limits: give the application an `AIORateLimiter()` (30
requests/s overall, `max_retries=0`) and send every message concurrently; the limiter paces
them. With `max_retries=0` a 429 reaches the caller, so the loop sleeps `retry_after` and
sends that recipient again, as a user of the library would. The base URL points at the
simulator (`Application.builder().base_url(f"{sim}/bot")`). Everything else is at PTB's
defaults: one `Application` per bot, its `HTTPXRequest` pool of 256 connections, all the
applications of a run in one process (as Disparo runs one worker).

What bounds it (measured on the 2-core bench VM, python-telegram-bot 22.8, httpx 0.28.1,
httpcore 1.0.9, anyio 4.16, aiolimiter 1.2.1):

- One `send_message` costs 4-5 ms of CPU in this process even one at a time over one kept-alive
  connection (5.0 ms; 4.0-4.3 ms with `sniffio` importable, see below), so one process tops out at
  about 200-250 messages/s. One bot (30/s) fits: 1 x 3,000 reaches 0.94-0.96 of its limit.
  20 bots ask for 600/s and cannot fit.
- `AIORateLimiter` paces when requests *start* (a leaky bucket of 30 per bot, which also lets a
  first burst of 30 go at once); it does not bound how many are in flight. Once the event loop
  cannot keep up, requests are started faster than they finish, every one waiting for a free
  connection makes httpcore open another (up to 256 per application), and httpcore checks every
  pooled connection (a socket poll each) on every request (encode/httpcore#928), so each
  request costs more the more there are: 1 idle connection 4.3 ms, 30 idle 6-7 ms.
- httpcore 1.0.9 tries `import sniffio` on every lock it creates; anyio >= 4.11 no longer
  installs sniffio, so each failing import walks sys.path (100 us here; encode/httpcore#1103).
  It is what a fresh `pip install "python-telegram-bot[rate-limiter]"` gets, so it is kept.

Hence 20 x 500 collapses: 5 x 100 already ends at 0.49 of its limit, 13 ms CPU a message, 217
connections; 20 x 500 opens 3,500 connections in 40 s, delivers 7 messages/s (ratio 0.012)
at 143 ms CPU a message with no 429s. The simulator is not the cause: it stays near 6 % CPU,
keeps connections alive (150 sequential sends reuse one), and the closes are the client's.
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
