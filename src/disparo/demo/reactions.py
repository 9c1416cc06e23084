"""What the demo's simulated readers do after a delivery: the planted shares of clicks and
replies per shot and variant, scaled by the hour, and each recipient's reaction fixed by the
hash of its Telegram id (`draw`), with most planted buyers among the clickers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from disparo.demo.buyers import DEMO_SEED, Purchase, between, draw


@dataclass(frozen=True, slots=True)
class Responses:
    """Shares of a group's delivered recipients who follow its tracked button, and who write
    back (independently of the click), at an hour of factor 1."""

    click: float
    reply: float


# The planted truth of the demo's A/B shot, as shares of the recipients the message reached:
# the deadline (B) is clicked and answered more than the discount (A). Other shots (those the
# operator sends) get their own shares per shot and variant, drawn from OTHER_CLICK and
# OTHER_REPLY by `shot_responses`. Every share is then scaled by the hour of the delivery.
PLANTED_RESPONSES: Mapping[str, Responses] = MappingProxyType(
    {"A": Responses(click=0.30, reply=0.05), "B": Responses(click=0.45, reply=0.08)}
)
OTHER_CLICK = (0.15, 0.40)
OTHER_REPLY = (0.02, 0.08)
# By the local hour of the delivery, in the bot's time zone: few at night, most in the evening.
HOUR_FACTORS = (
    (0.6,) * 7  # 00-06
    + (0.9,) * 5  # 07-11
    + (1.0,) * 6  # 12-17
    + (1.3,) * 5  # 18-22
    + (0.9,)  # 23
)
# A recipient planted to buy follows the button first, almost always; the others click at the
# share that keeps the group's total at its planted click share (`others_click`).
BUYERS_CLICK = 0.9
REPLIES = (
    "Ainda tem?",
    "Quanto fica o frete?",
    "Aceita cartão?",
    "Obrigado, vou ver!",
    "Tem em outra cor?",
    "Como faço para pagar?",
    "Parar",
)


@dataclass(frozen=True, slots=True)
class ResponseDelays:
    """How long after the delivery readers click (when not buying) and reply: (least, most)
    seconds. A buyer clicks between the delivery and its PIX."""

    click_s: tuple[float, float]
    reply_s: tuple[float, float]


# Compressed as the buyers' delays are: seconds to a minute or so after the message.
DEMO_RESPONSE_DELAYS = ResponseDelays(click_s=(1.0, 45.0), reply_s=(5.0, 90.0))


def shot_responses(shot_id: int, group: str, *, seed: str = DEMO_SEED) -> Responses:
    """The shares of a shot other than the demo's A/B shot, for one of its groups ("" without
    variants): fixed by the seed, the shot and the group, within OTHER_CLICK and OTHER_REPLY."""

    def within(span: tuple[float, float], what: str) -> float:
        least, most = span
        return round(least + (most - least) * draw(seed, shot_id, f"{what}:{group}"), 3)

    return Responses(
        click=within(OTHER_CLICK, "shot-click"), reply=within(OTHER_REPLY, "shot-reply")
    )


def at_hour(responses: Responses, hour: int) -> Responses:
    """The shares for a delivery at local `hour` (0-23)."""
    factor = HOUR_FACTORS[hour]
    return Responses(click=responses.click * factor, reply=responses.reply * factor)


def others_click(click: float, pix: float) -> float:
    """The click share of the recipients not planted to buy such that, with BUYERS_CLICK of
    the buyers (a share `pix` of the group), the group clicks at `click`."""
    if pix >= 1:
        return 0.0
    return min(1.0, max(0.0, (click - BUYERS_CLICK * pix) / (1 - pix)))


@dataclass(frozen=True, slots=True)
class Reaction:
    """What one reached recipient will do: follow the button at `click_at`, write `reply` at
    `reply_at` (None: never)."""

    telegram_id: int
    click_at: datetime | None
    reply_at: datetime | None
    reply: str = ""


def plan_reaction(
    telegram_id: int,
    shares: Responses,
    reached_at: datetime,
    *,
    purchase: Purchase | None = None,
    pix: float = 0.0,
    seed: str = DEMO_SEED,
    delays: ResponseDelays = DEMO_RESPONSE_DELAYS,
) -> Reaction | None:
    """Whether and when a recipient the message reached at `reached_at` clicks and replies,
    at `shares` (already scaled to the hour). A planted buyer (`purchase`, of a group buying
    at `pix`) clicks at BUYERS_CLICK, before its PIX; the others at `others_click`. The draws
    "click", "click-at", "reply", "reply-at" and "reply-text" decide."""
    chance = BUYERS_CLICK if purchase is not None else others_click(shares.click, pix)
    click_at = None
    if draw(seed, telegram_id, "click") < chance:
        unit = draw(seed, telegram_id, "click-at")
        if purchase is not None:
            click_at = reached_at + (purchase.pix_at - reached_at) * unit
        else:
            click_at = reached_at + between(delays.click_s, unit)
    reply_at, reply = None, ""
    if draw(seed, telegram_id, "reply") < shares.reply:
        reply_at = reached_at + between(delays.reply_s, draw(seed, telegram_id, "reply-at"))
        reply = REPLIES[int(draw(seed, telegram_id, "reply-text") * len(REPLIES))]
    if click_at is None and reply_at is None:
        return None
    return Reaction(telegram_id, click_at, reply_at, reply)
