"""Filter trees: what parses, and errors that name the bad node's path and say what to do."""

from __future__ import annotations

from typing import Any

import pytest

from disparo.domain import filters as f
from disparo.domain.filters import FilterError, parse_filter


def test_a_full_tree_parses_into_typed_nodes() -> None:
    tree = {
        "all": [
            {"tag": "curso-a"},
            {"not": {"tag": "aluno"}},
            {"any": [{"last_pix": {"within_days": 3}}, {"total_paid": {"min_cents": 20_000}}]},
            {"paid": {"min_cents": 100, "max_cents": 900, "within_days": 30}},
            {"event": {"name": "quiz_done"}},
            {"language": ["pt", "es", "pt"]},
            {"started": {"within_days": 7}},
            {"interacted": {"within_days": 1}},
            {"received_shot": {"within_hours": 12}},
            {"last_pix": {"older_than_days": 3}},
        ]
    }
    parsed = parse_filter(tree)
    assert isinstance(parsed, f.AllOf)
    assert parsed.items[:2] == (f.Tag("curso-a"), f.Not(f.Tag("aluno")))
    assert parsed.items[2] == f.AnyOf((f.LastPix(3, older=False), f.TotalPaid(20_000, None)))
    assert parsed.items[3] == f.Paid(100, 900, 30)
    assert parsed.items[4:] == (
        f.Event("quiz_done", None),
        f.Language(("pt", "es")),
        f.Started(7),
        f.Interacted(1),
        f.ReceivedShot(12),
        f.LastPix(3, older=True),
    )


@pytest.mark.parametrize(
    ("tree", "path", "words"),
    [
        (
            {"all": [{"tag": "a"}, {"tag": "b"}, {"paid": {"min_cents": -1}}]},
            "filter.all[2].paid.min_cents",
            "from 0",
        ),
        (
            {"all": [{"paid": {"min_cents": 5, "max_cents": 1}}]},
            "filter.all[0].paid.min_cents",
            "above max_cents",
        ),
        ({"tag": "VIP"}, "filter.tag", "did you mean 'vip'"),
        ({"colour": "red"}, "filter", "unknown filter 'colour'"),
        ({"tag": "a", "not": {"tag": "b"}}, "filter", "exactly one key"),
        ({"any": []}, "filter.any", "non-empty list"),
        ({"not": {"last_pix": {}}}, "filter.not.last_pix", "exactly one of"),
        ({"last_pix": {"within_days": 0}}, "filter.last_pix.within_days", "from 1 to 3650"),
        ({"last_pix": {"within_days": "3"}}, "filter.last_pix.within_days", "whole number"),
        ({"paid": {"min": 5}}, "filter.paid.min", "unknown field"),
        ({"total_paid": {}}, "filter.total_paid", "min_cents, max_cents or both"),
        ({"event": {"within_days": 2}}, "filter.event.name", "is required"),
        ({"language": ["PT"]}, "filter.language[0]", "lower-case"),
        ({"started": {}}, "filter.started.within_days", "is required"),
        ({"received_shot": {"within_hours": True}}, "filter.received_shot.within_hours", "whole"),
        ([{"tag": "a"}], "filter", "exactly one key"),
    ],
)
def test_errors_name_the_path(tree: Any, path: str, words: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(tree)
    assert caught.value.path == path
    assert words in caught.value.message


def test_size_and_depth_are_bounded() -> None:
    deep: Any = {"tag": "a"}
    for _ in range(f.MAX_DEPTH + 1):
        deep = {"not": deep}
    with pytest.raises(FilterError, match="nest at most"):
        parse_filter(deep)
    wide = {"any": [{"tag": "a"}] * f.MAX_NODES}
    with pytest.raises(FilterError, match="at most 100 nodes"):
        parse_filter(wide)
