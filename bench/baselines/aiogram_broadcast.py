"""aiogram's documented broadcast pattern, as a baseline.

From aiogram's broadcast example: one recipient after the other, a 50 ms sleep between two
messages ("20 messages per second, limit: 30"), and on `TelegramRetryAfter` sleep
`retry_after` and send that recipient again. The session points at the simulator
(`TelegramAPIServer.from_base(sim)`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError, TelegramRetryAfter

SLEEP_S = 0.05


async def aiogram_broadcast(
    sim: str, token: str, chat_ids: Sequence[int], text: str
) -> Counter[str]:
    """Send `text` to every chat the way aiogram's example does; outcomes counted."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(sim))
    bot = Bot(token, session=session)
    counts: Counter[str] = Counter()

    async def send_message(chat_id: int) -> None:
        try:
            await bot.send_message(chat_id, text, parse_mode="HTML")
        except TelegramRetryAfter as exc:
            counts["429"] += 1
            await asyncio.sleep(exc.retry_after)
            await send_message(chat_id)
        except TelegramForbiddenError:
            counts["skipped"] += 1
        except TelegramAPIError:
            counts["error"] += 1
        else:
            counts["sent"] += 1

    try:
        for chat_id in chat_ids:
            await send_message(chat_id)
            await asyncio.sleep(SLEEP_S)
    finally:
        await session.close()
    return counts
