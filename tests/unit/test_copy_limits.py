"""A shot's copy, media URL and buttons are refused exactly where Telegram would refuse them."""

from __future__ import annotations

from typing import Any

import pytest

from disparo.domain.copy import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    CopyError,
    buttons_markup,
    check_buttons,
    check_copy,
    check_media_url,
)


def test_limits_are_telegrams() -> None:
    """4096 for a text message, 1024 for a media caption."""
    assert (TEXT_LIMIT, CAPTION_LIMIT) == (4096, 1024)


@pytest.mark.parametrize(
    ("media_type", "limit"),
    [("none", 4096), ("audio", 4096), ("photo", 1024), ("video", 1024)],
)
def test_length_limit_by_media_type(media_type: str, limit: int) -> None:
    """The copy may be exactly at the limit; one character more is refused with the overshoot."""
    check_copy("a" * limit, media_type)
    with pytest.raises(CopyError, match=f"at most {limit}.*shorten it by 1") as info:
        check_copy("a" * (limit + 1), media_type)
    assert info.value.field == "copy"


def test_limits_count_utf16_units_not_tags_or_entities() -> None:
    """Emoji count 2; tags count 0; an entity counts as its one character."""
    check_copy("😀" * (TEXT_LIMIT // 2))
    with pytest.raises(CopyError, match="4098 characters"):
        check_copy("😀" * (TEXT_LIMIT // 2 + 1))
    check_copy("<b>" + "a" * TEXT_LIMIT + "</b>")
    check_copy("&amp;" * CAPTION_LIMIT, "photo")
    with pytest.raises(CopyError):
        check_copy("&amp;" * (CAPTION_LIMIT + 1), "photo")


@pytest.mark.parametrize("copy", ["", "   \n\t", "<b> </b>", "<i></i>\n"])
def test_empty_copy_is_refused(copy: str) -> None:
    """A copy with nothing visible (only tags or blanks) is refused."""
    with pytest.raises(CopyError, match="empty"):
        check_copy(copy)


def test_invalid_html_is_refused_with_the_first_problem() -> None:
    """The error names the first problem, its line and column, and counts the others."""
    with pytest.raises(CopyError) as info:
        check_copy("Hi <b>there\nA & B", "photo")
    error = info.value
    assert isinstance(error, ValueError)
    assert error.field == "copy"
    assert error.message == str(error)
    assert "line 1, column 4: <b> is never closed" in error.message
    assert "(1 more after it)" in error.message


def test_unknown_media_type_is_refused() -> None:
    """media_type must be one of the spec's values; the error names the field."""
    with pytest.raises(CopyError, match="none, photo, video, audio") as info:
        check_copy("hi", "document")
    assert info.value.field == "media_type"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/photo.jpg",
        "http://cdn.example.com:8080/v.mp4?sig=a%20b&x=1",
        "HTTPS://EXAMPLE.COM/A.PNG",
        "https://" + "a" * 2030 + ".com/x",
    ],
)
def test_good_media_urls_pass(url: str) -> None:
    """http(s) links with a host, up to 2048 characters, are accepted."""
    assert len(url) <= 2048
    check_media_url(url)


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("", "empty"),
        ("ftp://example.com/a.jpg", "must start with https:// or http://"),
        ("example.com/a.jpg", "must start with"),
        ("javascript:alert(1)", "must start with"),
        ("file:///etc/passwd", "must start with"),
        ("https://", "no host"),
        ("https:///path/only.jpg", "no host"),
        ("https://exa mple.com/a.jpg", "position 12"),
        ("https://example.com/a.jpg\n", "control character"),
        ("https://example.com/\x00", "control character"),
        ("https://example.com:99999/a.jpg", "not a valid URL"),
        ("https://" + "a" * 2040 + ".com/x", "at most 2048"),
    ],
)
def test_bad_media_urls_are_refused(url: str, phrase: str) -> None:
    """Non-http(s), host-less, spaced or over-long media URLs are refused on field media_url."""
    with pytest.raises(CopyError, match=phrase.replace("(", r"\(")) as info:
        check_media_url(url)
    assert info.value.field == "media_url"


def _button(text: str = "Buy", url: str = "https://example.com/buy") -> dict[str, str]:
    return {"text": text, "url": url}


def test_buttons_become_an_inline_keyboard() -> None:
    """Valid rows of link buttons turn into Telegram's reply_markup."""
    buttons = [[_button(), _button("Channel", "tg://resolve?domain=example")], [_button("FAQ")]]
    assert buttons_markup(buttons) == {"inline_keyboard": buttons}
    assert buttons_markup([]) is None
    assert buttons_markup(None) is None


def test_button_limits_are_inclusive() -> None:
    """8 buttons in a row, 100 in all and 64-character texts are accepted."""
    check_buttons([[_button()] * 8] * 12 + [[_button()] * 4])
    check_buttons([[_button("x" * 64)]])


@pytest.mark.parametrize(
    ("buttons", "phrase"),
    [
        ("not a list", "list of rows"),
        ([{"text": "a", "url": "https://a.com"}], "row 1 of buttons must be a non-empty list"),
        ([[]], "row 1 of buttons must be a non-empty list"),
        ([[_button()] * 9], "row 1 has 9 buttons"),
        ([[_button()] * 8] * 12 + [[_button()] * 5], "101 buttons"),
        ([["Buy"]], "button 1 of row 1 must be"),
        ([[{"url": "https://a.com"}]], "needs a text"),
        ([[_button("   ")]], "needs a text"),
        ([[_button("x" * 65)]], "65 characters"),
        ([[_button(), {"text": "a", "url": "https://a.com", "callback_data": "x"}]], "row 1"),
        ([[{"text": "a"}]], "url of button 1 of row 1 is empty"),
        ([[_button(url="ftp://a.com")]], "https:// or http:// or tg://"),
        ([[_button(url="https://")]], "no host"),
        ([[_button(url="tg://")]], "no host"),
        ([[_button(url="https://a.com/x y")]], "space"),
    ],
)
def test_bad_buttons_are_refused(buttons: Any, phrase: str) -> None:
    """Each broken rule names the row and the button, on field buttons."""
    with pytest.raises(CopyError, match=phrase) as info:
        check_buttons(buttons)
    assert info.value.field == "buttons"
    with pytest.raises(CopyError):
        buttons_markup(buttons)


def test_markup_keeps_only_text_and_url() -> None:
    """The markup is a fresh structure of the two fields Telegram needs."""
    row = [_button()]
    markup = buttons_markup([row])
    assert markup is not None
    assert markup["inline_keyboard"][0][0] is not row[0]
