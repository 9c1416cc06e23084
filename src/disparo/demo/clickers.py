"""The demo's simulated readers at work: recipients a delivery reached follow its tracked button
with a real HTTP GET of `/r/{code}`, and some write back in the bot's chat through the simulator
(the update reaches Disparo by the bot's webhook or polling), as reactions.py plans them.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import orjson

from disparo.demo.buyers import (
    DEMO_DELAYS,
    DEMO_SEED,
    ENDED,
    PLANTED,
    WARN_AFTER_FAILURES,
    Delays,
    Rates,
    plan_purchase,
)
from disparo.demo.reactions import (
    DEMO_RESPONSE_DELAYS,
    PLANTED_RESPONSES,
    Reaction,
    ResponseDelays,
    Responses,
    at_hour,
    plan_reaction,
    shot_responses,
)
from disparo.demo.seed import SeedError

log = logging.getLogger("disparo.demo.clickers")


def tracked_url(message: Mapping[str, Any], redirect_base: str) -> str | None:
    """The first URL button of a delivered message that points at the redirect, if any."""
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard") or ():
        for button in row:
            url = button.get("url")
            if isinstance(url, str) and url.startswith(redirect_base):
                return url
    return None


def _due(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now


@dataclass(slots=True)
class _Followed:
    """One shot's recipients as far as the clickers know them."""

    shot_id: int
    planned: dict[int, Reaction | None] = field(default_factory=dict)
    message_ids: dict[int, int] = field(default_factory=dict)
    clicked: set[int] = field(default_factory=set)  # followed, or found without a button
    replied: set[int] = field(default_factory=set)
    ended: bool = False

    def pending(self) -> bool:
        """Someone planned has not acted yet."""
        return any(
            (r.click_at is not None and tid not in self.clicked)
            or (r.reply_at is not None and tid not in self.replied)
            for tid, r in self.planned.items()
            if r is not None
        )


class Clickers:
    """Follows the shots of one bot and acts out the recipients planted to click or reply,
    each once its time has come: clicks with a GET of the delivered button's URL (the redirect
    answers 302; the destination is not fetched), replies as one simulator call per step."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        simulator_url: str,
        admin_token: str,
        bot_slug: str,
        bot_token: str,
        *,
        buyers_shot: int | None = None,
        seed: str = DEMO_SEED,
        truth: Mapping[str, Rates] = PLANTED,
        delays: Delays = DEMO_DELAYS,
        responses: Mapping[str, Responses] = PLANTED_RESPONSES,
        response_delays: ResponseDelays = DEMO_RESPONSE_DELAYS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        parallel: int = 16,
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self.sim_url = simulator_url.rstrip("/")
        self.redirect_base = self.api_url + "/r/"
        self.headers = {"Authorization": f"Bearer {admin_token}"}
        self.bot_slug, self.bot_token = bot_slug, bot_token
        self.buyers_shot = buyers_shot
        self.seed, self.truth, self.delays = seed, truth, delays
        self.responses, self.response_delays = responses, response_delays
        self.now = now
        self.parallel = asyncio.Semaphore(parallel)
        self.shots: dict[int, _Followed] = {}
        self.zone: ZoneInfo | None = None

    async def _request(
        self, method: str, url: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> bytes:
        async with self.session.request(method, url, json=json, headers=headers) as answer:
            body = await answer.read()
            if answer.status >= 400:
                text = body[:500].decode(errors="replace")
                raise SeedError(f"clickers: {method} {url}: HTTP {answer.status}: {text}")
            return body

    async def _admin(self, path: str) -> bytes:
        """GET on the admin API (the token goes there only)."""
        return await self._request("GET", self.api_url + path, headers=self.headers)

    async def _sim(self, method: str, path: str, *, json: Any = None) -> Any:
        """A call to the simulator's control API for this bot; its `result`."""
        url = f"{self.sim_url}/sim/bots/{self.bot_token}/{path}"
        return orjson.loads(await self._request(method, url, json=json))["result"]

    async def _csv(self, path: str) -> list[dict[str, str]]:
        text = (await self._admin(path)).decode()
        return list(csv.DictReader(io.StringIO(text)))

    def shares(self, shot_id: int, group: str, reached_at: datetime) -> Responses:
        """The planted shares of a recipient of `group` reached at `reached_at`."""
        planted = self.responses.get(group) if shot_id == self.buyers_shot else None
        base = planted or shot_responses(shot_id, group, seed=self.seed)
        assert self.zone is not None  # set by the first step
        return at_hour(base, reached_at.astimezone(self.zone).hour)

    def _plan(self, shot: _Followed, tid: int, group: str, reached_at: datetime) -> None:
        shares = self.shares(shot.shot_id, group, reached_at)
        purchase, pix = None, 0.0
        rates = self.truth.get(group) if shot.shot_id == self.buyers_shot else None
        if rates is not None:
            pix = rates.pix
            purchase = plan_purchase(
                tid, group, reached_at, seed=self.seed, truth=self.truth, delays=self.delays
            )
        shot.planned[tid] = plan_reaction(
            tid,
            shares,
            reached_at,
            purchase=purchase,
            pix=pix,
            seed=self.seed,
            delays=self.response_delays,
        )

    async def _click(self, shot: _Followed, tid: int) -> None:
        async with self.parallel:
            messages = await self._sim("GET", f"messages?chat_id={tid}")
            wanted = shot.message_ids.get(tid)
            url = next(
                (
                    tracked_url(m, self.redirect_base)
                    for m in messages
                    if m["message_id"] == wanted and not m["deleted"]
                ),
                None,
            )
            if url is not None:  # no tracked button (none in the shot, or no public URL)
                async with self.session.get(url, allow_redirects=False) as answer:
                    if answer.status != 302:
                        raise SeedError(f"clickers: {url}: HTTP {answer.status}, not a redirect")
            shot.clicked.add(tid)

    async def _step_shot(self, shot: _Followed, ended: bool, now: datetime) -> None:
        for row in await self._csv(f"/admin/api/shots/{shot.shot_id}/conversions.csv"):
            tid = int(row["telegram_id"])
            if not row["reached_at"] or tid in shot.planned:
                continue
            if row["status"] == "sent":  # only a delivered message can be read
                self._plan(shot, tid, row["group"], datetime.fromisoformat(row["reached_at"]))
            else:
                shot.planned[tid] = None
        shot.ended = ended
        clicks, replies = [], []
        for tid, reaction in shot.planned.items():
            if reaction is None:
                continue
            if _due(reaction.click_at, now) and tid not in shot.clicked:
                clicks.append(tid)
            if _due(reaction.reply_at, now) and tid not in shot.replied:
                replies.append((tid, reaction.reply))
        if any(tid not in shot.message_ids for tid in clicks):
            for row in await self._csv(f"/admin/api/shots/{shot.shot_id}/deliveries.csv"):
                if row["message_id"]:
                    shot.message_ids[int(row["telegram_id"])] = int(row["message_id"])
        failed = [
            error
            for error in await asyncio.gather(
                *(self._click(shot, tid) for tid in clicks), return_exceptions=True
            )
            if isinstance(error, BaseException)
        ]
        if replies:
            body = {"message": [{"id": tid, "text": text} for tid, text in replies]}
            await self._sim("POST", "updates", json=body)
            shot.replied.update(tid for tid, _ in replies)
        if failed:  # the others are done; these are tried again at the next step
            raise failed[0]
        if clicks or replies:
            log.info(
                "[DEMO][CLICKERS] acted",
                extra={"shot_id": shot.shot_id, "clicks": len(clicks), "replies": len(replies)},
            )

    async def _started_shots(self) -> Iterable[tuple[int, bool]]:
        """(id, ended) of the bot's newest shots that have started."""
        path = f"/admin/api/shots?bot_slug={self.bot_slug}&limit=100"
        page = orjson.loads(await self._admin(path))
        return [(s["id"], s["status"] in ENDED) for s in page["items"] if s["started_at"]]

    async def step(self) -> bool:
        """Plan the recipients reached since the last step and act out what is due now; False
        once every shot started so far has ended and everyone planned has acted."""
        if self.zone is None:
            bot = orjson.loads(await self._admin(f"/admin/api/bots/{self.bot_slug}"))
            self.zone = ZoneInfo(bot["timezone"])
        now = self.now()
        for shot_id, ended in await self._started_shots():  # before the lists: complete once ended
            shot = self.shots.setdefault(shot_id, _Followed(shot_id))
            if not shot.ended or shot.pending():
                await self._step_shot(shot, ended, now)
        return not all(shot.ended and not shot.pending() for shot in self.shots.values())

    async def run(self, poll_s: float = 2.0) -> None:
        """Step every `poll_s` seconds until cancelled (the operator may send more shots). A
        failed step is logged and retried at the next."""
        failures = 0
        while True:
            try:
                await self.step()
                failures = 0
            except (SeedError, aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                failures += 1
                level = logging.WARNING if failures >= WARN_AFTER_FAILURES else logging.INFO
                extra = {"bot_slug": self.bot_slug, "failures": failures}
                log.log(level, "[DEMO][CLICKERS] step failed: %s", exc, extra=extra)
            await asyncio.sleep(poll_s)


async def run_clickers(
    api_url: str,
    simulator_url: str,
    admin_token: str,
    bot_slug: str,
    bot_token: str,
    *,
    buyers_shot: int | None = None,
) -> None:
    """The demo's simulated readers of every shot of `bot_slug`, until cancelled."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        clickers = Clickers(
            session,
            api_url,
            simulator_url,
            admin_token,
            bot_slug,
            bot_token,
            buyers_shot=buyers_shot,
        )
        try:
            await clickers.run()
        except Exception:  # a bug: the demo goes on without clickers, the log says why
            log.exception("[DEMO][CLICKERS] stopped", extra={"bot_slug": bot_slug})
