"""Seeds the demo through the real paths: simulated users, /start by webhook, imports by the API.

Every bot gets simulated users on the simulator; a recent share presses /start, which the
simulator delivers to POST /telegram/{slug}/webhook; older contacts, PIX events and payments
go through the admin API's bulk import routes. Then some users block the bot, deactivate their
account or vanish on the simulator's side only, so a shot finds them, as in real life.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson

log = logging.getLogger("disparo.demo.run")

FIRST_NAMES = (
    "Ana", "Beatriz", "Bruno", "Camila", "Carlos", "Daniela", "Diego", "Eduarda", "Fábio",
    "Fernanda", "Gabriel", "Giovana", "Gustavo", "Helena", "Igor", "Isabela", "João", "Juliana",
    "Larissa", "Leonardo", "Letícia", "Lucas", "Luana", "Marcos", "Mariana", "Mateus", "Natália",
    "Paulo", "Pedro", "Rafaela", "Renata", "Rodrigo", "Sabrina", "Thiago", "Vanessa", "Vinícius",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima",
    "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Barbosa", "Rocha",
)  # fmt: skip

# What becomes of the users, as shares: the simulator answers a send to them accordingly.
STATE_SHARES = (("active", 0.80), ("blocked", 0.10), ("deactivated", 0.05), ("missing", 0.05))
RECENT_SHARE = 0.3  # pressed /start during the demo (by webhook); the rest are imported
PIX_SHARE = 0.22  # generated a PIX (funnel event)
PAYMENT_SHARE = 0.6  # of those: a payment transaction too
IMPORT_BATCH = 2000


@dataclass(frozen=True, slots=True)
class DemoBot:
    """A demo bot: its slug, display name, simulator token, and how many users it has."""

    slug: str
    name: str
    token: str
    users: int
    rate_per_s: int = 25
    timezone: str = "America/Sao_Paulo"
    first_user_id: int = 100_000_000


def demo_token(bot_id: int, seed: str) -> str:
    """A well-formed (fake) bot token: `<bot id>:<35 characters>`."""
    rng = random.Random(f"{bot_id}:{seed}")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return f"{bot_id}:" + "".join(rng.choice(alphabet) for _ in range(35))


DEMO_BOTS = (
    DemoBot("loja-da-ana", "Loja da Ana", demo_token(7000000001, "loja"), 3000),
    DemoBot(
        "curso-pro",
        "Curso Pro",
        demo_token(7000000002, "curso"),
        2000,
        timezone="America/Manaus",
        first_user_id=200_000_000,
    ),
)


@dataclass(slots=True)
class PlannedUser:
    """One simulated user and what the demo does with them."""

    id: int
    first_name: str
    last_name: str
    username: str | None
    state: str  # in the simulator, once seeding ends
    recent: bool  # presses /start now (webhook) rather than being imported
    announces_block: bool  # blocks the bot after /start, and Telegram tells the bot (webhook)
    last_seen_days: float
    pix: bool
    payment: str | None  # created / paid / expired, or None


@dataclass(slots=True)
class SeedReport:
    """What was seeded, per bot slug."""

    users: dict[str, int] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)
    imported: dict[str, int] = field(default_factory=dict)
    pix: dict[str, int] = field(default_factory=dict)
    payments: dict[str, int] = field(default_factory=dict)


class SeedError(RuntimeError):
    """Seeding the demo failed; the message says at which step and why."""


def _pick(rng: random.Random, shares: Sequence[tuple[str, float]]) -> str:
    roll, total = rng.random(), 0.0
    for name, share in shares:
        total += share
        if roll < total:
            return name
    return shares[-1][0]


def plan_users(bot: DemoBot, seed: int = 7) -> list[PlannedUser]:
    """The users of `bot`: deterministic for a seed, with the shares above."""
    rng = random.Random(f"{bot.slug}:{seed}")
    planned = []
    for n in range(bot.users):
        state = _pick(rng, STATE_SHARES)
        # A vanished account cannot press /start today: it is only in the imported list.
        recent = state != "missing" and rng.random() < RECENT_SHARE
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = f"{first.lower()}{last.lower()}{n}" if rng.random() < 0.6 else None
        pix = rng.random() < PIX_SHARE
        payment = None
        if pix and rng.random() < PAYMENT_SHARE:
            payment = _pick(rng, (("paid", 0.45), ("created", 0.35), ("expired", 0.2)))
        planned.append(
            PlannedUser(
                id=bot.first_user_id + n,
                first_name=first,
                last_name=last,
                username=username.encode("ascii", "ignore").decode() if username else None,
                state=state,
                recent=recent,
                announces_block=recent and state == "blocked" and n % 2 == 0,
                last_seen_days=0.0 if recent else round(rng.uniform(1, 90), 2),
                pix=pix,
                payment=payment,
            )
        )
    return planned


def _ndjson(rows: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Seeder:
    """Talks to the admin API and to the simulator's control API to seed the demo bots."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        simulator_url: str,
        admin_token: str,
        *,
        progress: Callable[[str], None] = lambda _line: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self.sim_url = simulator_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {admin_token}"}
        self.progress = progress
        self.now = now

    async def _call(
        self, method: str, url: str, step: str, *, json: Any = None, data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:  # fmt: skip
        async with self.session.request(method, url, json=json, data=data, headers=headers) as r:
            body = await r.read()
            if r.status >= 400:
                raise SeedError(f"{step}: HTTP {r.status}: {body[:500].decode(errors='replace')}")
            return orjson.loads(body) if body else None

    async def admin(self, method: str, path: str, step: str, **kwargs: Any) -> Any:
        """Call the admin API."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self._call(method, self.api_url + path, step, headers=headers, **kwargs)

    async def sim(self, method: str, path: str, step: str, **kwargs: Any) -> Any:
        """Call the simulator's control API; its answer's `result`."""
        answer = await self._call(method, self.sim_url + path, step, **kwargs)
        return answer.get("result") if isinstance(answer, dict) else answer

    async def seed_bot(self, bot: DemoBot, report: SeedReport, *, seed: int = 7) -> None:
        """Everything for one bot, in the order a real bot's life would produce it."""
        users = plan_users(bot, seed)
        now = self.now()
        sim_bot = f"/sim/bots/{bot.token}"
        # 1. Telegram knows the users (all reachable until the story says otherwise).
        await self.sim(
            "POST",
            f"{sim_bot}/users",
            f"{bot.slug}: simulator users",
            json=[
                {"id": u.id, "state": "active", "first_name": u.first_name,
                 "last_name": u.last_name, **({"username": u.username} if u.username else {})}
                for u in users
            ],
        )  # fmt: skip
        # 2. The operator registers the bot (checked with getMe) and its webhook.
        await self.admin(
            "POST",
            "/admin/api/bots",
            f"{bot.slug}: register the bot",
            json={
                "slug": bot.slug,
                "name": bot.name,
                "token": bot.token,
                "rate_per_s": bot.rate_per_s,
                "timezone": bot.timezone,
            },
        )
        await self.admin(
            "POST", f"/admin/api/bots/{bot.slug}/webhook", f"{bot.slug}: register the webhook"
        )
        # 3. Contacts from before Disparo: imported, all reachable as far as anyone knows.
        older = [u for u in users if not u.recent]
        rows = []
        for u in older:
            seen = now - timedelta(days=u.last_seen_days)
            started = seen - timedelta(days=(u.id % 30))
            rows.append(
                {
                    "telegram_id": u.id,
                    "first_name": u.first_name,
                    "last_name": u.last_name,
                    **({"username": u.username} if u.username else {}),
                    "language_code": "pt-br",
                    "started_at": _iso(started),
                    "last_interaction_at": _iso(seen),
                }
            )
        await self._import(bot, "contacts", rows)
        report.imported[bot.slug] = len(rows)
        # 4. Recent users press /start, and some of them block the bot right after: the
        #    simulator delivers each update (message, my_chat_member) to our webhook.
        recent = [u.id for u in users if u.recent]
        blocking = [u.id for u in users if u.announces_block]
        self.progress(f"  {bot.slug}: {len(recent)} users press /start (webhook)…")
        await self.sim(
            "POST", f"{sim_bot}/updates", f"{bot.slug}: /start updates", json={"start": recent}
        )
        await self._wait_delivered(bot, len(recent))
        # Webhook deliveries run in parallel: block only once every /start has landed.
        await self.sim(
            "POST", f"{sim_bot}/updates", f"{bot.slug}: block updates", json={"block": blocking}
        )
        await self._wait_delivered(bot, len(recent) + len(blocking))
        report.started[bot.slug] = len(recent)
        # 5. The others changed without telling the bot: a send finds out (403 / 400).
        silent = [
            {"id": u.id, "state": u.state}
            for u in users
            if u.state != "active" and not u.announces_block
        ]
        if silent:
            await self.sim("POST", f"{sim_bot}/users", f"{bot.slug}: user states", json=silent)
        # 6. The funnel: PIX generated, and payments.
        events = [
            {
                "telegram_id": u.id,
                "event": "pix_created",
                "occurred_at": _iso(now - timedelta(days=u.last_seen_days, minutes=5)),
                "payload": {"valor": 4990 + (u.id % 5) * 1000},
            }
            for u in users
            if u.pix
        ]
        await self._import(bot, "events", events)
        payments = [
            {
                "telegram_id": u.id,
                "external_id": f"pix-{bot.slug}-{u.id}",
                "status": u.payment,
                "amount_cents": 4990 + (u.id % 5) * 1000,
                "currency": "BRL",
                "created_at": _iso(now - timedelta(days=u.last_seen_days, minutes=4)),
                **(
                    {"paid_at": _iso(now - timedelta(days=u.last_seen_days, minutes=1))}
                    if u.payment == "paid"
                    else {}
                ),
            }
            for u in users
            if u.payment
        ]
        await self._import(bot, "transactions", payments)
        report.users[bot.slug] = len(users)
        report.pix[bot.slug] = len(events)
        report.payments[bot.slug] = len(payments)

    async def seed_audiences(self, bot: DemoBot) -> None:
        """What an operator sets up to sell: buyers tagged, a saved segment of PIX not yet
        paid, and a template with personal variables."""
        admin = f"/admin/api/bots/{bot.slug}"
        await self.admin(
            "POST",
            f"{admin}/tags:apply",
            f"{bot.slug}: tag the buyers",
            json={"tag": "comprador", "filter": {"paid": {}}},
        )
        unpaid = {"all": [{"last_pix": {"within_days": 30}}, {"not": {"paid": {}}}]}
        await self.admin(
            "POST",
            f"{admin}/segments",
            f"{bot.slug}: a saved segment",
            json={"name": "PIX sem pagamento", "filter": unpaid},
        )
        await self.admin(
            "POST",
            "/admin/api/templates",
            f"{bot.slug}: a template",
            json={
                "name": f"PIX expirando ({bot.slug})",
                "bot_slug": bot.slug,
                "copy": "{first_name|Oi}, seu PIX de <b>{last_pix_amount}</b> expira hoje!",
                "buttons": [[{"text": "Pagar agora", "url": "https://example.com/pix"}]],
            },
        )

    async def _import(self, bot: DemoBot, kind: str, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), IMPORT_BATCH):
            chunk = rows[start : start + IMPORT_BATCH]
            result = await self.admin(
                "POST",
                f"/admin/api/bots/{bot.slug}/{kind}:import",
                f"{bot.slug}: import {kind}",
                data=_ndjson(chunk),
                headers={"Content-Type": "application/x-ndjson"},
            )
            if result and result.get("rejected"):
                raise SeedError(f"{bot.slug}: import {kind} rejected rows: {result['rejections']}")

    async def _wait_delivered(self, bot: DemoBot, expected: int, timeout_s: float = 180) -> None:
        bot_id = bot.token.split(":", 1)[0]
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            stats = await self.sim("GET", "/sim/stats", "simulator stats")
            counters = stats["bots"].get(bot_id, {})
            if counters.get("webhook_delivered", 0) >= expected and not counters.get(
                "pending_updates"
            ):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise SeedError(
                    f"{bot.slug}: only {counters.get('webhook_delivered', 0)} of {expected} "
                    f"/start updates reached the webhook in {timeout_s:.0f} s"
                )
            await asyncio.sleep(0.2)


async def seed_demo(
    api_url: str,
    simulator_url: str,
    admin_token: str,
    bots: Sequence[DemoBot] = DEMO_BOTS,
    *,
    progress: Callable[[str], None] = lambda _line: None,
    seed: int = 7,
) -> SeedReport:
    """Seed every bot of `bots` through the running API and simulator."""
    report = SeedReport()
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        seeder = Seeder(session, api_url, simulator_url, admin_token, progress=progress)
        for bot in bots:
            progress(f"  {bot.slug}: {bot.users} simulated users…")
            await seeder.seed_bot(bot, report, seed=seed)
            await seeder.seed_audiences(bot)
    return report
