"""Disparo's Telegram-HTML checker and the simulator's agree with the corpus and each other.

The two are independent implementations (the domain must not import the simulator, nor the
simulator the domain); tests/data/telegram_html_corpus.json holds what Telegram does with each
case, and the admin page's tghtml.js is held to the same file (tests/browser).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from disparo.domain.telegram_html import measure_html
from disparo.simulator.content import check_text, formatted_text
from disparo.simulator.errors import ApiError
from disparo.simulator.html import utf16_len

CORPUS_PATH = Path(__file__).parents[1] / "data" / "telegram_html_corpus.json"
CASES: list[dict[str, Any]] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))["cases"]


def simulator_length(html: str) -> int | None:
    """What the simulator makes of `html` sent with parse_mode=HTML: None when it refuses the
    markup, else the length it counts (0 when it finds the text empty)."""
    refusal: str | None = None
    try:
        text, _ = formatted_text({"text": html, "parse_mode": "HTML"}, "text", "entities")
    except ApiError as error:
        refusal = error.description
    if refusal is not None:
        assert refusal.startswith("Bad Request: can't parse entities: "), refusal
        return None
    assert text is not None
    try:
        check_text(text)
    except ApiError as error:
        refusal = error.description
    if refusal is not None:
        assert refusal == "Bad Request: message text is empty", refusal
        return 0
    return utf16_len(text)


def _case_id(case: dict[str, Any]) -> str:
    return case["html"].encode("unicode_escape").decode("ascii")[:60] or "<empty>"


def test_corpus_is_well_formed() -> None:
    """Every case has a verdict, a length exactly when valid, and enough of each kind."""
    for case in CASES:
        assert set(case) <= {"html", "valid", "length", "server_length", "rule"}, case
        assert ("length" in case) == case["valid"], case
        assert not ("server_length" in case and case["valid"]), case
    assert len({case["html"] for case in CASES}) == len(CASES), "a case is listed twice"
    assert sum(case["valid"] for case in CASES) >= 30
    assert sum(not case["valid"] for case in CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_domain_checker_gives_the_corpus_verdict_and_length(case: dict[str, Any]) -> None:
    """validate_html/visible_length: no problem and Telegram's length for valid cases; at least
    one problem otherwise, marked telegram_accepts exactly when Telegram's server takes it."""
    length, problems = measure_html(case["html"])
    if case["valid"]:
        assert problems == [], case["rule"]
        assert length == case["length"], case["rule"]
    else:
        assert problems, case["rule"]
        refused = [problem for problem in problems if not problem.telegram_accepts]
        assert bool(refused) == ("server_length" not in case), (case["rule"], problems)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_simulator_gives_the_corpus_verdict_and_length(case: dict[str, Any]) -> None:
    """The simulator takes what Telegram's server takes, counting the same length; it refuses
    the rest with "can't parse entities"."""
    expected = case.get("length", case.get("server_length"))
    assert simulator_length(case["html"]) == expected, case["rule"]


# Elements as start and end tag, right and subtly wrong, and the text that goes between them.
ELEMENTS = [
    *(("<b>", "</b>"), ("<B>", "</b>"), ("<b>", "</B>"), ("<b>", "</>"), ("<i>", "</i >")),
    *(("<em>", "</em>"), ("<u>", "</u>"), ("<s>", "</s>"), ("<tg-spoiler>", "</tg-spoiler>")),
    *(('<span class="tg-spoiler">', "</span>"), ("<span class=TG-SPOILER>", "</span>")),
    *(("<span>", "</span>"), ('<span class="tg-spoiler" class="x">', "</span>")),
    *(("<code>", "</code>"), ("<pre>", "</pre>"), ('<code class="language-py">', "</code>")),
    *(('<code class="x">', "</code>"), ("<blockquote>", "</blockquote>")),
    *(("<blockquote expandable>", "</blockquote>"), ('<a href="https://example.com">', "</a>")),
    *(('<a href="tg://user?id=42">', "</a>"), ("<a>", "</a>"), ('<a href="">', "</a>")),
    *(('<a href="javascript:x">', "</a>"), ('<a href="a b">', "</a>"), ("<a href=x.y>", "</a>")),
    *(('<a href="example.com:80">', "</a>"), ('<a href="ftp://x.y">', "</a>")),
    *(('<tg-emoji emoji-id="5368324170671202286">', "</tg-emoji>"), ("<tg-emoji>", "</tg-emoji>")),
    *(('<tg-emoji emoji-id="0">', "</tg-emoji>"), ('<tg-emoji emoji-id="-7">', "</tg-emoji>")),
    *(('<tg-emoji emoji-id="007">', "</tg-emoji>"), ('<b class="x">', "</b>"), ("<b x>", "</b>")),
    *(("<b\u00a0>", "</b>"), ("<b\tclass='y'>", "</b>"), ("<xyz>", "</xyz>"), ("<b>", "</i>")),
]
TEXTS = [
    *("a", "xyz", " ", "  ", "\n", "\t", "\r", "\u00a0", "\u2003", "\u200b", "\u3000", "😀"),
    *("é", "\u2028", "\u0333", "\x01", "&amp;", "&lt;", "&gt;", "&quot;", "&#65;", "&#x41;"),
    *("&#X41;", "&#128512;", "&#xD83D;", "&#xDE00;", "&#0;", "&#1114111;", "&nbsp;", "&lt"),
    *("&", "&amp1;", "&#32;", "&#8232;", "&#0000065;", "&#00000065;", "<", ">", "</", "<br/>"),
]


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tags, inside: tags[0] + "".join(inside) + tags[1],
        st.sampled_from(ELEMENTS),
        st.lists(children, max_size=3),
    )


NESTED = st.lists(
    st.recursive(st.sampled_from(TEXTS), _element, max_leaves=8), min_size=1, max_size=4
).map("".join)
FRAGMENTS = [tag for tags in ELEMENTS for tag in tags] + TEXTS
SOUP = st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join)
CHARACTERS = st.text(alphabet="<>/&;#=\"' abixX0123lt\n\u00a0", max_size=40)


@settings(database=None, max_examples=1000, deadline=None)
@given(html=st.one_of(NESTED, NESTED, SOUP, CHARACTERS))
@example(html="<b>x</B>")
@example(html="&#xD83D;&#xDE00;")
@example(html="\n<pre> x</pre>")
def test_domain_and_simulator_agree(html: str) -> None:
    """On any text the simulator refuses exactly when Disparo finds a problem Telegram refuses
    too (the others are Disparo's deliberate strictness, marked telegram_accepts); when Disparo
    finds none, both count the same length."""
    length, problems = measure_html(html)
    sim = simulator_length(html)
    refused = [problem for problem in problems if not problem.telegram_accepts]
    assert (sim is None) == bool(refused), (sim, problems)
    if not problems:
        assert sim == length
