"""A shot's experiment as the API takes it: variants checked like a shot's content, conversion
events, holdout and winner mode; stored with the shot (`db/experiment.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from disparo.api.button_schemas import plain_buttons
from disparo.api.content import Content
from disparo.api.errors import ApiError, invalid
from disparo.api.experiment_schemas import GoalIn, VariantIn, WinnerIn
from disparo.api.personalize import check_templated_content
from disparo.domain.experiment import (
    DEFAULT_GOALS,
    HOLDOUT,
    MAX_GOALS,
    MAX_VARIANTS,
    MIN_VARIANTS,
    Goal,
    Variant,
)


def checked_variants(
    variants: Sequence[VariantIn] | None, *, accept_too_long: bool
) -> tuple[Variant, ...]:
    """The variants, each checked as a shot's content is (422 naming the variant's field)."""
    if not variants:
        return ()
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise invalid(
            "variants",
            f"a shot has {MIN_VARIANTS} to {MAX_VARIANTS} variants ({len(variants)} given); "
            "leave variants out for a shot with one message",
        )
    seen: set[str] = set()
    checked = []
    for i, each in enumerate(variants):
        name = each.name.strip()
        if name.casefold() == HOLDOUT:
            raise invalid(f"variants[{i}].name", "holdout names the control group; pick another")
        if not name or name.casefold() in seen:
            raise invalid(f"variants[{i}].name", f"variant names must be unique ({name!r} repeats)")
        seen.add(name.casefold())
        content = Content(
            each.copy_text, each.media_type, each.media_url, plain_buttons(each.buttons)
        )
        try:
            check_templated_content(content, accept_too_long=accept_too_long)
        except ApiError as exc:  # point it at the variant's field: variants[1].copy
            exc.field = f"variants[{i}].{exc.field}" if exc.field else f"variants[{i}]"
            raise
        checked.append(
            Variant(
                name,
                content.copy,
                content.media_type.value,
                content.media_url,
                content.buttons,
                each.weight,
            )
        )
    return tuple(checked)


def checked_goals(goals: Sequence[GoalIn] | None) -> tuple[Goal, ...]:
    """The conversion events (the default one when none are given); each once, at most 4."""
    if goals is None:
        return DEFAULT_GOALS
    if not 1 <= len(goals) <= MAX_GOALS:
        raise invalid(
            "conversions",
            f"give 1 to {MAX_GOALS} conversion events ({len(goals)} given), the primary first",
        )
    events = [goal.event for goal in goals]
    for i, event in enumerate(events):
        if event in events[:i]:
            raise invalid(f"conversions[{i}].event", f"{event} is listed twice")
    return tuple(Goal(goal.event, goal.window_hours) for goal in goals)


def checked_winner(winner: WinnerIn | None, variants: Sequence[Variant]) -> dict[str, int] | None:
    """Winner mode's settings as stored; 422 without variants to choose from."""
    if winner is None:
        return None
    if not variants:
        raise invalid("winner", "winner mode chooses among variants: give 2 to 5 variants")
    return winner.model_dump()
