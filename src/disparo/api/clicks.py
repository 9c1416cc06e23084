"""The click redirect's work: find a code's URL again, answer at once, record the click soon.

A code is checked (its signature) before anything is read. Its URL is found again from the
shot: the same content the worker sent (the variant's, with the recipient's values when a URL
has variables), its links numbered as `domain.tracking.links` numbers them; what a shot's
content holds is kept for a few minutes, so a click costs no database read unless its URL is
personal. Clicks are written in batches (every `flush_s`, one transaction) by a task of the
app's lifespan, so the redirect never waits for the database's write lock; a process killed
in between loses at most that interval's clicks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime

from disparo.db.bots import bot_rules
from disparo.db.contact_values import contact_values
from disparo.db.engine import Database
from disparo.db.experiment import variants_of
from disparo.db.links import Click, LinkSource, record_clicks
from disparo.db.shots import get_shot
from disparo.domain.errors import DomainError
from disparo.domain.personal import SAMPLE, Personalizer, ShotContents
from disparo.domain.tracking import LinkRef, links
from disparo.domain.variables import ContactValues

log = logging.getLogger("disparo.api.clicks")

CACHE_SHOTS = 512
CACHE_S = 300.0
FLUSH_S = 0.25
MAX_PENDING = 100_000  # clicks held for the next write; beyond that (a database away) dropped


@dataclass(frozen=True, slots=True)
class _ShotLinks:
    bot_slug: str
    contents: ShotContents
    variants: tuple[str, ...]  # names by position
    copy_links: bool
    _fixed: dict[str | None, list[str | None]] = field(default_factory=dict)

    def links_for(self, variant: str | None, values: ContactValues) -> list[str]:
        return links(self.contents.steps_for(variant, values), copy_links=self.copy_links)

    def fixed_urls(self, variant: str | None) -> list[str | None]:
        """The variant's links, each its URL when it is the same for every recipient, or None
        when it has variables (two contacts' values tell them apart)."""
        if variant not in self._fixed:
            fixed: list[str | None] = []
            with suppress(DomainError):  # content that cannot be built has no links to follow
                bare = self.links_for(variant, ContactValues())
                try:
                    sample: list[str | None] = list(self.links_for(variant, SAMPLE))
                except DomainError:  # too long once filled in: each contact's values decide
                    sample = [None] * len(bare)
                fixed = [a if a == b else None for a, b in zip(bare, sample, strict=True)]
            self._fixed[variant] = fixed
        return self._fixed[variant]


class Redirects:
    """Resolves codes to URLs and records the clicks."""

    def __init__(
        self,
        db: Database,
        links_: LinkSource,
        clock: Callable[[], datetime],
        *,
        flush_s: float = FLUSH_S,
    ) -> None:
        self.db, self.links, self.clock, self.flush_s = db, links_, clock, flush_s
        self._shots: OrderedDict[int, tuple[float, _ShotLinks | None]] = OrderedDict()
        self._pending: list[Click] = []
        self._dropped = 0

    async def follow(self, code: str) -> str | None:
        """The URL behind `code` (its click held for the next write), or None: no such link."""
        links_ = await self.links.get()
        ref = links_.signer.read(code) if links_ else None
        if ref is None:
            return None
        shot = await self._shot(ref.shot_id)
        if shot is None or ref.variant > len(shot.variants):
            return None
        variant = shot.variants[ref.variant - 1] if ref.variant else None
        url = await self._url(shot, variant, ref)
        if url is None:
            return None
        if len(self._pending) < MAX_PENDING:
            self._pending.append(
                Click(ref.shot_id, ref.telegram_id, variant, ref.link, self.clock())
            )
        else:
            self._dropped += 1
        return url

    def forget(self, shot_id: int) -> None:
        """Read the shot's links again at the next click (its content was edited)."""
        self._shots.pop(shot_id, None)

    async def _url(self, shot: _ShotLinks, variant: str | None, ref: LinkRef) -> str | None:
        fixed = shot.fixed_urls(variant)
        if ref.link >= len(fixed):
            return None
        if fixed[ref.link] is not None:  # the same for every recipient: no read
            return fixed[ref.link]
        content = shot.contents.of(variant)
        assert isinstance(content, Personalizer)
        async with self.db.read() as conn:
            found = await contact_values(
                conn, shot.bot_slug, [ref.telegram_id], content.templates.variables
            )
        values = found.get(ref.telegram_id, ContactValues())
        try:
            urls = shot.links_for(variant, values)
        except DomainError:  # the copy grew past Telegram's limit: its buttons are still known
            return None
        return urls[ref.link] if ref.link < len(urls) else None

    async def _shot(self, shot_id: int) -> _ShotLinks | None:
        now = time.monotonic()
        cached = self._shots.get(shot_id)
        if cached is not None and now - cached[0] < CACHE_S:
            self._shots.move_to_end(shot_id)
            return cached[1]
        found = await self._load(shot_id)
        self._shots[shot_id] = (now, found)
        self._shots.move_to_end(shot_id)
        while len(self._shots) > CACHE_SHOTS:
            self._shots.popitem(last=False)
        return found

    async def _load(self, shot_id: int) -> _ShotLinks | None:
        async with self.db.read() as conn:
            shot = await get_shot(conn, shot_id)
            if shot is None:
                return None
            variants = (await variants_of(conn, [shot_id])).get(shot_id, ())
            rules = await bot_rules(conn, shot.bot_slug)
        try:
            contents = ShotContents.build(
                copy=shot.copy,
                media_type=shot.media_type,
                media_url=shot.media_url,
                buttons=shot.buttons,
                variants=variants,
                paid_broadcast=False,
                templated=shot.templated,
                timezone=rules.timezone if rules else "UTC",
            )
        except DomainError:  # content that could not be sent has no links to follow
            return None
        names = tuple(variant.name for variant in variants)
        return _ShotLinks(shot.bot_slug, contents, names, shot.track_copy_links)

    async def flush(self) -> None:
        """Write the clicks held so far (kept for the next try if the database is away)."""
        batch, self._pending = self._pending, []
        if self._dropped:
            log.warning(
                "clicks dropped: the database did not take them", extra={"count": self._dropped}
            )
            self._dropped = 0
        if not batch:
            return
        try:
            await record_clicks(self.db, batch)
        except Exception:
            log.exception("could not record clicks; trying again", extra={"count": len(batch)})
            self._pending = batch + self._pending

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Flush every `flush_s` while the app runs, and once more when it stops."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.flush_s)
                await self.flush()

        task = asyncio.create_task(loop(), name="click-writer")
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            await self.flush()
