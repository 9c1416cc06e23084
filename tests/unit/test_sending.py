"""Which Bot API calls (and fields) deliver each media type."""

from __future__ import annotations

import pytest

from disparo.domain.sending import ShotContentError, delivery_steps

BUTTONS = [[{"text": "Comprar", "url": "https://example.com/buy"}]]
MARKUP = {"inline_keyboard": [[{"text": "Comprar", "url": "https://example.com/buy"}]]}


def test_text_is_one_send_message_without_preview() -> None:
    """none: sendMessage, HTML, link preview disabled, buttons as reply_markup."""
    (step,) = delivery_steps(
        copy="<b>Oi</b>", media_type="none", media_url=None, buttons=BUTTONS, paid_broadcast=False
    )
    assert step.method == "sendMessage"
    assert step.params == {
        "text": "<b>Oi</b>",
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
        "reply_markup": MARKUP,
    }


@pytest.mark.parametrize(("kind", "method"), [("photo", "sendPhoto"), ("video", "sendVideo")])
def test_photo_and_video_carry_the_copy_as_caption(kind: str, method: str) -> None:
    """photo/video: one call, the copy as an HTML caption, buttons on it, paid flag when paid."""
    (step,) = delivery_steps(
        copy="Oi",
        media_type=kind,
        media_url="https://x.test/a",
        buttons=BUTTONS,
        paid_broadcast=True,
    )
    assert step.method == method
    assert step.params == {
        kind: "https://x.test/a",
        "caption": "Oi",
        "parse_mode": "HTML",
        "reply_markup": MARKUP,
        "allow_paid_broadcast": True,
    }


def test_audio_then_the_copy_in_its_own_message() -> None:
    """audio: sendAudio (no caption), then sendMessage with the copy and the buttons."""
    audio, text = delivery_steps(
        copy="Oi",
        media_type="audio",
        media_url="https://x.test/a.mp3",
        buttons=BUTTONS,
        paid_broadcast=True,
    )
    assert (audio.method, audio.carries_copy) == ("sendAudio", False)
    assert audio.params == {"audio": "https://x.test/a.mp3", "allow_paid_broadcast": True}
    assert (text.method, text.carries_copy) == ("sendMessage", True)
    assert text.params["text"] == "Oi"
    assert text.params["reply_markup"] == MARKUP
    assert text.params["allow_paid_broadcast"] is True


def test_no_buttons_no_markup_and_no_paid_flag() -> None:
    """Without buttons or paid broadcast, neither field is sent."""
    (step,) = delivery_steps(
        copy="Oi", media_type="none", media_url=None, buttons=None, paid_broadcast=False
    )
    assert "reply_markup" not in step.params
    assert "allow_paid_broadcast" not in step.params


def test_media_without_url_and_bad_buttons_are_content_errors() -> None:
    """A shot that cannot be sent as stored is refused before any request."""
    with pytest.raises(ShotContentError, match="media_url"):
        delivery_steps(
            copy="Oi", media_type="photo", media_url=None, buttons=None, paid_broadcast=False
        )
    with pytest.raises(ShotContentError, match="buttons"):
        delivery_steps(
            copy="Oi",
            media_type="none",
            media_url=None,
            buttons=[[{"text": "x"}]],
            paid_broadcast=False,
        )
