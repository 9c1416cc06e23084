"""Telegram HTML checks: what parse_mode=HTML accepts, what it refuses, the length it counts."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disparo.domain.copy import CopyProblem, validate_html, visible_length

VALID = [
    "",
    "plain text, no markup",
    "a > b is fine: Telegram keeps a bare '>'",
    "<b>bold</b> <strong>bold</strong> <i>it</i> <em>it</em>",
    "<u>under</u> <ins>under</ins> <s>x</s> <strike>x</strike> <del>x</del>",
    '<tg-spoiler>secret</tg-spoiler> <span class="tg-spoiler">secret</span>',
    "<span class='tg-spoiler'>single quotes</span> <span class=tg-spoiler>unquoted</span>",
    '<a href="https://example.com/?a=1&b=2">a link with a query</a>',
    "<a href='tg://user?id=123'>a mention</a>",
    '<a href = "https://example.com" >spaces around</a >',
    "<code>x = 1</code>",
    "<pre>block</pre>",
    '<pre><code class="language-python">print(1)</code></pre>',
    "<blockquote>quote</blockquote> <blockquote expandable>long quote</blockquote>",
    '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
    "<b>bold <i>bold italic <u>and underlined</u></i></b>",
    '<b><a href="https://example.com">bold link</a></b>',
    '<a href="https://example.com"><b>link with bold</b></a>',
    "<blockquote><b>bold</b> in a quote</blockquote>",
    "&lt;b&gt; is shown as text &amp; &quot;quoted&quot; &#39; &#x1F600; &#128512;",
    "<B>upper-case start tag</b>",
    "line one\n<b>line two</b>\n\nline four",
    "<b></b>empty elements are fine",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_html_has_no_problems(text: str) -> None:
    """Every form Telegram's HTML documents is accepted."""
    assert validate_html(text) == []


INVALID = [
    # (text, where the problem is, a phrase the message must contain)
    ("a < b", 2, "write &lt;"),
    ("3<5", 1, "the tag <5> is not supported"),
    ("AT&T", 2, "write &amp;"),
    ("&nbsp;", 0, "does not know the entity &nbsp;"),
    ("a &lt b", 2, "closing ';'"),
    ("&#0;", 0, "not a character Telegram decodes"),
    ("&#xD800;", 0, "surrogate pair, which Telegram refuses"),
    ("&#1114111;", 0, "not a character Telegram decodes"),
    ("<xyz>hi</xyz>", 0, "the tag <xyz> is not supported"),
    ("<br/>", 0, "not supported"),
    ("<b>never closed", 0, "add </b>"),
    ("x</b>", 1, "closes nothing"),
    ("<b><i>x</b></i>", 3, "must be closed before </b>"),
    ("<i>x</em>", 4, "does not match the open <i>"),
    ("<B>x</B>", 4, "write </b>"),
    ("<b>x</>", 4, "write it in full"),
    ("<a>x</a>", 0, "needs a link"),
    ('<a href="">x</a>', 0, "needs a link"),
    ('<a href="https://example.com/a b">x</a>', 0, "%20"),
    ("<a href=https://example.com>x</a>", 8, "double quotes"),
    ("<span>x</span>", 0, 'class="tg-spoiler"'),
    ('<span class="tg-other">x</span>', 0, 'class="tg-spoiler"'),
    ('<b class="big">x</b>', 0, "does not take the attribute class"),
    ('<a href="https://example.com" target="_blank">x</a>', 0, "accepts only href"),
    ('<a href="https://a.com" href="https://b.com">x</a>', 0, "twice"),
    ("<b =x>y</b>", 3, "no name"),
    ('<code class="language-python">x</code>', 0, "directly inside <pre>"),
    ('<pre><code class="lang-python">x</code></pre>', 5, "must name a language"),
    ("<code><b>x</b></code>", 6, "cannot go inside <code>"),
    ("<pre>a <i>b</i></pre>", 7, "cannot go inside <pre>"),
    ("<pre><i><code>x</code></i></pre>", 5, "cannot go inside <pre>"),
    ('<a href="https://a.com"><a href="https://b.com">x</a></a>', 24, "cannot go inside <a>"),
    ("<blockquote><blockquote>x</blockquote></blockquote>", 12, "quotes cannot be nested"),
    ("<tg-emoji>👍</tg-emoji>", 0, "numeric emoji-id"),
    ('<tg-emoji emoji-id="abc">👍</tg-emoji>', 0, "numeric emoji-id"),
    ('<tg-emoji emoji-id="123"></tg-emoji>', 25, "must contain the emoji"),
    ("<b", 0, "not finished"),
    ('<a href="https://example.com', 8, "closing"),
    ("<b>x</b", 4, "not finished"),
]


@pytest.mark.parametrize(("text", "position", "phrase"), INVALID)
def test_invalid_html_is_reported_where_it_is(text: str, position: int, phrase: str) -> None:
    """Each refused construct yields a problem at its character with a how-to-fix message."""
    problems = validate_html(text)
    assert problems, text
    assert any(p.position == position and phrase in p.message for p in problems), problems


def test_problems_name_line_and_column() -> None:
    """A problem on a later line reports that line and the column within it, from 1."""
    [problem] = validate_html("hello\nworld <b>bold\n")
    assert (problem.position, problem.line, problem.column) == (12, 2, 7)
    assert str(problem).startswith("line 2, column 7: <b> is never closed")


def test_problems_come_in_text_order() -> None:
    """Several problems are all reported, sorted by position."""
    problems = validate_html("<b>a & b <xyz> c")
    assert [p.position for p in problems] == sorted(p.position for p in problems)
    assert len(problems) == 3


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("", 0),
        ("hello", 5),
        ("<b>hi</b>", 2),
        ("&lt;b&gt;", 3),
        ("a&amp;b", 3),
        ("😀", 2),
        ("&#x1F600;", 2),
        ("👍🏽", 4),
        ("é中", 2),
        ("  padded \n\n", 6),
        ("<b> </b>\n", 0),
        ('<a href="https://example.com/very/long/url">x</a>', 1),
        ('<tg-emoji emoji-id="1">👍</tg-emoji>', 2),
    ],
)
def test_visible_length_counts_utf16_units_after_parsing(text: str, length: int) -> None:
    """Tags and URLs do not count, entities count as their character, emoji count 2."""
    assert visible_length(text) == length


# Text Telegram keeps as is: no control characters, nor those it drops (U+2028..U+202E, and
# three combining marks).
TEXT = st.text(
    st.characters(
        exclude_categories=("Cs", "Cc", "Zl", "Zp"),
        exclude_characters="\u202a\u202b\u202c\u202d\u202e\u030a\u0333\u033f",
    ),
    max_size=200,
)
TAGS = st.sampled_from(["b", "strong", "i", "em", "u", "ins", "s", "del", "tg-spoiler", "code"])


@settings(database=None, max_examples=200)
@given(text=TEXT, tag=TAGS)
def test_escaped_text_is_always_valid(text: str, tag: str) -> None:
    """Any text passed through html.escape, in any simple tag, is valid with its own length."""
    framed = f"[{text}]"
    marked_up = f"<{tag}>{html.escape(framed)}</{tag}>"
    assert validate_html(marked_up) == []
    assert visible_length(marked_up) == len(framed.encode("utf-16-le")) // 2


@settings(database=None, max_examples=300)
@given(text=st.text(alphabet="<>&/ab ='\"#x;0123lt\n", max_size=60))
def test_arbitrary_markup_never_crashes(text: str) -> None:
    """Any input gets a verdict: problems inside the text, in order, and a length."""
    problems = validate_html(text)
    assert all(isinstance(p, CopyProblem) and 0 <= p.position <= len(text) for p in problems)
    assert [p.position for p in problems] == sorted(p.position for p in problems)
    # Tags and entities only ever shorten what Telegram counts (UTF-16 code units, ends trimmed).
    raw_length = len(text.strip().encode("utf-16-le")) // 2
    if "<" in text or "&" in text:
        assert 0 <= visible_length(text) <= raw_length
    else:
        assert visible_length(text) == raw_length
