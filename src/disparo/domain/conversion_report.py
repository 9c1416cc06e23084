"""What a shot sold, per group: recipients, conversions and revenue, rates and lifts against the
holdout with 95 % intervals, and one plain sentence in pt-BR and English.

Pure over counts: `db/conversions.py` reads them. Every recipient of a group counts, and is
followed from the moment its turn came, delivered or not (intention to treat): leaving a
variant's unreachable recipients out, while the holdout, never tried, keeps its own, would bias
the comparison by the unreachable share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from disparo.domain import stats
from disparo.domain.experiment import HOLDOUT
from disparo.domain.stats import Interval

ALL = "all"  # a shot without variants: its recipients outside the holdout
UNDECIDED = "undecided"  # winner mode's remainder before the decision
REVENUE_EVENT = "paid"


@dataclass(frozen=True, slots=True)
class GroupFacts:
    """What the database counted for one group."""

    name: str
    recipients: int
    delivered: int
    conversions: Mapping[str, int] = field(default_factory=dict)
    revenue_cents: int = 0
    revenue_sq: float = 0.0  # sum over recipients of their revenue squared (cents²)


def _json(interval: Interval | None) -> dict[str, float] | None:
    return None if interval is None else interval.as_json()


def _scaled(interval: Interval | None, factor: float) -> Interval | None:
    if interval is None:
        return None
    return Interval(interval.value * factor, interval.low * factor, interval.high * factor)


def group_json(
    group: GroupFacts, events: Sequence[str], holdout: GroupFacts | None
) -> dict[str, Any]:
    """One row of the report."""
    n = group.recipients
    rates = {e: _json(stats.rate(group.conversions.get(e, 0), n)) for e in events}
    revenue = REVENUE_EVENT in events
    row: dict[str, Any] = {
        "name": group.name,
        "recipients": n,
        "delivered": group.delivered,
        "conversions": {e: group.conversions.get(e, 0) for e in events},
        "rates": rates,
        "revenue_cents": group.revenue_cents if revenue else None,
        "revenue_per_recipient": _json(stats.mean(group.revenue_cents, group.revenue_sq, n))
        if revenue
        else None,
        "lift": None,
        "revenue_lift": None,
        "significant": None,
    }
    if holdout is None or group.name in (HOLDOUT, UNDECIDED) or not holdout.recipients:
        return row
    h = holdout
    row["lift"] = {
        e: {
            "absolute": _json(
                stats.rate_difference(
                    group.conversions.get(e, 0), n, h.conversions.get(e, 0), h.recipients
                )
            ),
            "relative": _json(
                stats.rate_ratio_lift(
                    group.conversions.get(e, 0), n, h.conversions.get(e, 0), h.recipients
                )
                if h.conversions.get(e, 0)
                else None
            ),
        }
        for e in events
    }
    if revenue:
        per_recipient = stats.mean_difference(
            group.revenue_cents, group.revenue_sq, n, h.revenue_cents, h.revenue_sq, h.recipients
        )
        row["revenue_lift"] = {
            "per_recipient": _json(per_recipient),
            "relative": _json(
                stats.mean_ratio_lift(
                    group.revenue_cents,
                    group.revenue_sq,
                    n,
                    h.revenue_cents,
                    h.revenue_sq,
                    h.recipients,
                )
            ),
            "total_cents": _json(_scaled(per_recipient, n)),
        }
    primary = row["lift"][events[0]]["absolute"] if events else None
    row["significant"] = None if primary is None else (primary["low"] > 0 or primary["high"] < 0)
    return row


def _reais(cents: float, *, english: bool) -> str:
    value = f"{round(abs(cents) / 100):,}"
    sign = "-" if cents < 0 else ""
    return f"{sign}R$ {value}" if english else f"{sign}R$ {value.replace(',', '.')}"


def _count(value: float, *, english: bool) -> str:
    text = f"{round(value):,}"
    return text if english else text.replace(",", ".")


def summary(
    rows: Sequence[dict[str, Any]], events: Sequence[str], has_holdout: bool
) -> dict[str, str]:
    """The report's one sentence in pt-BR and English."""
    if not events:
        return {
            "pt-BR": "Este disparo não tem eventos de conversão.",
            "en": "This shot has no conversion events.",
        }
    candidates = [r for r in rows if r["name"] not in (HOLDOUT, UNDECIDED) and r["recipients"]]
    if not has_holdout:
        return {
            "pt-BR": "Sem grupo de controle (holdout): não dá para medir quanto o disparo gerou "
            "a mais do que não enviar nada.",
            "en": "No holdout: what the shot earned beyond sending nothing cannot be measured.",
        }
    money = REVENUE_EVENT in events
    scored = []
    for row in candidates:
        interval = (row["revenue_lift"] or {}).get("total_cents") if money else None
        if interval is None and not money and row["lift"] and row["lift"][events[0]]["absolute"]:
            interval = _json(
                _scaled(Interval(**row["lift"][events[0]]["absolute"]), row["recipients"])
            )
        if interval is not None:
            scored.append((interval["value"], row["name"], interval))
    if not scored:
        return {
            "pt-BR": "Ainda inconclusivo: faltam destinatários para comparar com o holdout.",
            "en": "Still inconclusive: too few recipients to compare with the holdout.",
        }
    _, name, iv = max(scored, key=lambda item: item[0])
    who_pt = "O disparo" if name == ALL else f"A variante {name}"
    who_en = "The shot" if name == ALL else f"Variant {name}"
    if money:

        def amount(v: float, en: bool) -> str:
            return _reais(v, english=en)

        what_pt, what_en = "", ""
    else:

        def amount(v: float, en: bool) -> str:
            return _count(v, english=en)

        what_pt, what_en = f" conversões ({events[0]})", f" conversions ({events[0]})"
    ci_pt = f"IC 95 %: {amount(iv['low'], False)} a {amount(iv['high'], False)}"
    ci_en = f"95% CI: {amount(iv['low'], True)} to {amount(iv['high'], True)}"
    if iv["low"] > 0 or iv["high"] < 0:
        more = iv["value"] > 0
        return {
            "pt-BR": f"{who_pt} gerou {amount(abs(iv['value']), False)}{what_pt} a "
            f"{'mais' if more else 'menos'} que não enviar nada ({ci_pt}).",
            "en": f"{who_en} earned {amount(abs(iv['value']), True)}{what_en} "
            f"{'more' if more else 'less'} than sending nothing ({ci_en}).",
        }
    above = iv["value"] >= 0
    return {
        "pt-BR": f"Ainda inconclusivo: {who_pt[0].lower() + who_pt[1:]} ficou "
        f"{amount(abs(iv['value']), False)}{what_pt} {'acima' if above else 'abaixo'} do grupo "
        f"de controle, mas a diferença pode ser zero ({ci_pt}).",
        "en": f"Still inconclusive: {who_en[0].lower() + who_en[1:]} is "
        f"{amount(abs(iv['value']), True)}{what_en} {'above' if above else 'below'} the "
        f"holdout, but the difference may be zero ({ci_en}).",
    }
