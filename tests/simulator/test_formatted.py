"""What the simulator does to a text before sending it, as Telegram does: clean, then trim."""

from __future__ import annotations

from disparo.simulator.formatted import fix_text, is_blank
from disparo.simulator.html import parse_html


def _fixed(html: str) -> tuple[str, list[dict[str, object]]]:
    return fix_text(*parse_html(html))


def test_entities_follow_their_text_over_dropped_characters() -> None:
    """A dropped \\r or U+2028 before or inside an entity moves and shortens it with the text."""
    assert _fixed("a\r\n<b>b\r</b>c") == ("a\nbc", [{"type": "bold", "offset": 2, "length": 1}])
    assert _fixed("😀\u2028<i>é</i>") == ("😀é", [{"type": "italic", "offset": 2, "length": 1}])


def test_entities_over_whitespace_alone_are_dropped() -> None:
    """Bold over a space and italic over a line break go; the text is trimmed to what is left."""
    assert _fixed("<b> </b>x <i>\n</i>") == ("x", [])


def test_a_leading_pre_block_keeps_its_spaces_and_a_blank_link_does_not() -> None:
    """Trimming stops at a pre block that opens among the leading blanks; a link over a line
    break is dropped, so the trim goes through it."""
    assert _fixed("\n <pre> code</pre> ") == (" code", [{"type": "pre", "offset": 0, "length": 5}])
    assert _fixed('  <a href="https://e.com">\n</a>x') == ("x", [])


def test_blank_characters_alone_make_an_empty_text() -> None:
    """No-break, em and zero-width spaces alone are empty to Telegram; one letter is not."""
    assert is_blank("\u00a0\u2003\u200b \n")
    assert not is_blank("\u00a0x")
