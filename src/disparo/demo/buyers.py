"""The demo's A/B test and its simulated buyers: recipients the shot reached create a PIX and pay
at rates planted per group, and their payments come in through the admin API's import, as a
payment platform's would. The database's triggers turn them into the shot's conversions.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import aiohttp
import orjson

from disparo.demo.seed import SeedError
from disparo.domain.experiment import HOLDOUT

log = logging.getLogger("disparo.demo.buyers")


@dataclass(frozen=True, slots=True)
class Rates:
    """Shares of a group's reached recipients who create a PIX, and who pay it (a subset)."""

    pix: float
    paid: float


# The planted truth, as shares of the recipients whose turn came (`reached_at` set): without a
# message (the holdout, and a variant's recipients it never reached: blocked, deleted, about a
# fifth in the demo) people buy at the baseline rate; a delivered discount (A) makes them buy a
# little more, a delivered deadline (B) clearly more. The report, which counts every recipient,
# should then find B's lift, diluted by the share it could not reach (the true effect of sending
# it). Who and when is decided by `draw` over the Telegram id and DEMO_SEED (`plan_purchase`).
PLANTED: Mapping[str, Rates] = MappingProxyType(
    {
        HOLDOUT: Rates(pix=0.08, paid=0.04),
        "A": Rates(pix=0.12, paid=0.06),
        "B": Rates(pix=0.20, paid=0.11),
    }
)
DEMO_SEED = "disparo-demo"


@dataclass(frozen=True, slots=True)
class Delays:
    """How long after the shot reached them buyers create the PIX, and then pay: (least, most)
    seconds, each buyer somewhere between, by the hash."""

    pix_s: tuple[float, float]
    pay_s: tuple[float, float]


# In life a PIX follows a message within hours (the shot counts conversions for 72 h); the demo
# compresses that into seconds to a couple of minutes, so its report fills while one watches.
DEMO_DELAYS = Delays(pix_s=(3.0, 120.0), pay_s=(5.0, 60.0))

VARIANT_COPY = (
    (
        "A",
        "{first_name|Oi}, só hoje: <b>20% de desconto</b> em toda a loja com o cupom <b>ANA20</b>.",
        "Quero meu desconto",
    ),
    (
        "B",
        "{first_name|Oi}, <b>últimas horas!</b> A promoção acaba hoje às 23h59 e o frete "
        "grátis vai junto.",
        "Garantir antes que acabe",
    ),
)


def ab_shot(bot_slug: str) -> dict[str, Any]:
    """The demo's A/B shot: a discount (A) against a deadline (B), 50/50, a 20 % holdout that
    is sent nothing, measured on paid then pix_created within 72 h; sent now."""
    return {
        "bot_slug": bot_slug,
        "target": "started",
        "variants": [
            {
                "name": name,
                "copy": copy,
                "buttons": [[{"text": button, "url": "https://example.com/loja-da-ana"}]],
                "weight": 50,
            }
            for name, copy, button in VARIANT_COPY
        ],
        "holdout_percent": 20,
        "conversions": [
            {"event": "paid", "window_hours": 72},
            {"event": "pix_created", "window_hours": 72},
        ],
    }


def draw(seed: str, telegram_id: int, what: str) -> float:
    """A number in [0, 1) fixed by the seed, the recipient and what it decides: the first
    8 bytes of SHA-256 of `<seed>:<what>:<telegram_id>`, big-endian, over 2**64."""
    digest = hashlib.sha256(f"{seed}:{what}:{telegram_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def amount_cents(telegram_id: int) -> int:
    """What a buyer pays: R$ 49.90 to R$ 89.90, as the seeded payments."""
    return 4990 + (telegram_id % 5) * 1000


@dataclass(frozen=True, slots=True)
class Purchase:
    """What one recipient will do: a PIX at `pix_at`, paid at `paid_at` (None: never paid)."""

    telegram_id: int
    pix_at: datetime
    paid_at: datetime | None

    def row(self, external_id: str, *, paid: bool) -> dict[str, Any]:
        """The payment as `transactions:import` takes it: created, or paid."""
        row: dict[str, Any] = {
            "telegram_id": self.telegram_id,
            "external_id": external_id,
            "status": "paid" if paid else "created",
            "amount_cents": amount_cents(self.telegram_id),
            "currency": "BRL",
            "created_at": _iso(self.pix_at),
        }
        if paid and self.paid_at is not None:
            row["paid_at"] = _iso(self.paid_at)
        return row


def rates_of(row: Mapping[str, str]) -> str:
    """Which planted rates a recipient of the conversions CSV buys at: its group's when the
    message was delivered, the baseline (the holdout's) when nothing reached it."""
    return row["group"] if row["status"] == "sent" else HOLDOUT


def between(span: tuple[float, float], unit: float) -> timedelta:
    """A delay within `span` (least, most seconds), `unit` of the way from least to most."""
    least, most = span
    return timedelta(milliseconds=round((least + (most - least) * unit) * 1000))


def plan_purchase(
    telegram_id: int,
    group: str,
    reached_at: datetime,
    *,
    seed: str = DEMO_SEED,
    truth: Mapping[str, Rates] = PLANTED,
    delays: Delays = DEMO_DELAYS,
) -> Purchase | None:
    """Whether and when a recipient reached at `reached_at` buys: one draw ("buy") below the
    group's PIX rate makes a PIX, below its paid rate a payment too (every payer made the PIX
    first); the times come from the draws "pix" and "pay". A group without rates buys nothing."""
    rates = truth.get(group)
    buy = draw(seed, telegram_id, "buy")
    if rates is None or buy >= rates.pix:
        return None
    pix_at = reached_at + between(delays.pix_s, draw(seed, telegram_id, "pix"))
    paid_at = None
    if buy < rates.paid:
        paid_at = pix_at + between(delays.pay_s, draw(seed, telegram_id, "pay"))
    return Purchase(telegram_id, pix_at, paid_at)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


CREATED, PAID = "created", "paid"
ENDED = frozenset({"sent", "skipped", "error", "cancelled", "expired"})
WARN_AFTER_FAILURES = 3  # one failed step is normal while the demo stops; three in a row is not


class Buyers:
    """Follows one shot's recipients and imports the payments of those planted to buy, each
    once its time has come (a PIX as `created`; a payment turns the same row `paid`)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        admin_token: str,
        bot_slug: str,
        shot_id: int,
        *,
        seed: str = DEMO_SEED,
        truth: Mapping[str, Rates] = PLANTED,
        delays: Delays = DEMO_DELAYS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {admin_token}"}
        self.bot_slug = bot_slug
        self.shot_id = shot_id
        self.seed, self.truth, self.delays, self.now = seed, truth, delays, now
        self.planned: dict[int, Purchase | None] = {}  # every reached recipient, decided once
        self.imported: dict[int, str] = {}  # buyer: the last status imported

    async def _request(self, method: str, path: str, *, data: bytes | None = None) -> bytes:
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/x-ndjson"
        url = self.api_url + path
        async with self.session.request(method, url, data=data, headers=headers) as answer:
            body = await answer.read()
            if answer.status >= 400:
                text = body[:500].decode(errors="replace")
                raise SeedError(f"buyers: {method} {path}: HTTP {answer.status}: {text}")
            return body

    async def _shot_ended(self) -> bool:
        shot = orjson.loads(await self._request("GET", f"/admin/api/shots/{self.shot_id}"))
        return shot["status"] in ENDED

    async def _reached(self) -> Iterator[tuple[int, str, datetime]]:
        """Each recipient whose turn came so far: Telegram id, the rates it buys at (its
        group's if the message reached it, else the baseline), when."""
        path = f"/admin/api/shots/{self.shot_id}/conversions.csv"
        text = (await self._request("GET", path)).decode()
        return (
            (int(row["telegram_id"]), rates_of(row), datetime.fromisoformat(row["reached_at"]))
            for row in csv.DictReader(io.StringIO(text))
            if row["reached_at"]
        )

    def _due(self, now: datetime) -> dict[int, str]:
        """The status each buyer's payment reaches by `now`, where it moved on since the last
        import (a buyer whose payment also came due goes straight to paid)."""
        due = {}
        for tid, purchase in self.planned.items():
            if purchase is None or purchase.pix_at > now:
                continue
            status = PAID if purchase.paid_at is not None and purchase.paid_at <= now else CREATED
            if self.imported.get(tid) not in (status, PAID):
                due[tid] = status
        return due

    def finished(self) -> bool:
        """Every buyer planned so far has reached its last status."""
        return all(
            self.imported.get(tid) == (PAID if p.paid_at is not None else CREATED)
            for tid, p in self.planned.items()
            if p is not None
        )

    async def step(self) -> bool:
        """Plan the recipients reached since the last step and import the payments due now;
        False once the shot has ended and every buyer is in."""
        now = self.now()
        ended = await self._shot_ended()  # before the list: then the list has everyone
        for tid, group, reached_at in await self._reached():
            if tid not in self.planned:
                self.planned[tid] = plan_purchase(
                    tid, group, reached_at, seed=self.seed, truth=self.truth, delays=self.delays
                )
        due = self._due(now)
        if due:
            rows = []
            for tid, status in due.items():
                purchase = self.planned[tid]
                assert purchase is not None  # _due only names buyers
                rows.append(purchase.row(self.external_id(tid), paid=status == PAID))
            body = b"".join(orjson.dumps(row) + b"\n" for row in rows)
            path = f"/admin/api/bots/{self.bot_slug}/transactions:import"
            answer = orjson.loads(await self._request("POST", path, data=body))
            if answer.get("rejected"):
                raise SeedError(f"buyers: payments rejected: {answer['rejections']}")
            self.imported.update(due)
            paid = sum(status == PAID for status in due.values())
            log.info(
                "[DEMO][BUYERS] payments imported",
                extra={"shot_id": self.shot_id, "created": len(due) - paid, "paid": paid},
            )
        return not (ended and self.finished())

    def external_id(self, telegram_id: int) -> str:
        """The payment's id on the (simulated) payment platform."""
        return f"demo-ab-{self.shot_id}-{telegram_id}"

    async def run(self, poll_s: float = 2.0) -> None:
        """Step every `poll_s` seconds until the shot has ended and every buyer is in, or until
        cancelled. A failed step is logged and retried at the next."""
        failures = 0
        while True:
            try:
                going = await self.step()
                failures = 0
            except (SeedError, aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                failures += 1
                level = logging.WARNING if failures >= WARN_AFTER_FAILURES else logging.INFO
                extra = {"shot_id": self.shot_id, "failures": failures}
                log.log(level, "[DEMO][BUYERS] step failed: %s", exc, extra=extra)
                going = True
            if not going:
                extra = {"shot_id": self.shot_id, "buyers": len(self.imported)}
                log.info("[DEMO][BUYERS] every buyer is in", extra=extra)
                return
            await asyncio.sleep(poll_s)


async def start_ab_test(api_url: str, admin_token: str, bot_slug: str) -> int:
    """Create the demo's A/B shot on `bot_slug`; its id."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    url = api_url.rstrip("/") + "/admin/api/shots"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.post(url, json=ab_shot(bot_slug), headers=headers) as answer,
    ):
        body = await answer.read()
        if answer.status != 201:
            text = body[:500].decode(errors="replace")
            raise SeedError(f"{bot_slug}: the A/B shot: HTTP {answer.status}: {text}")
        return int(orjson.loads(body)["id"])


async def run_buyers(api_url: str, admin_token: str, bot_slug: str, shot_id: int) -> None:
    """The demo's simulated buyers of shot `shot_id`, until they are all in or cancelled."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        try:
            await Buyers(session, api_url, admin_token, bot_slug, shot_id).run()
        except Exception:  # a bug: the demo goes on without buyers, the log says why
            log.exception("[DEMO][BUYERS] stopped", extra={"shot_id": shot_id})
