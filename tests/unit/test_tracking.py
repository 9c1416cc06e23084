"""Tracked links: signed codes that name one link of one recipient's message, and the URLs of a
delivery numbered the same way when they are replaced and when they are found again."""

from __future__ import annotations

import pytest

from disparo.domain.sending import Step, delivery_steps
from disparo.domain.tracking import LinkRef, Links, LinkSigner, links

KEY = bytes(range(32))
BUTTONS = [
    [{"text": "Comprar", "url": "https://loja.example/pix?p=1&q=2"}],
    [
        {"text": "Suporte", "url": "tg://resolve?domain=loja"},
        {"text": "Site", "url": "http://a.example"},
    ],
]
COPY = 'Veja <a href="https://loja.example/blog?a=1&amp;b=2">o blog</a> e <a href="tg://user?id=1">eu</a>'


def _steps(media_type: str = "none", media_url: str | None = None) -> tuple[Step, ...]:
    return delivery_steps(
        copy=COPY, media_type=media_type, media_url=media_url, buttons=BUTTONS, paid_broadcast=False
    )


@pytest.mark.parametrize(
    "ref",
    [LinkRef(1, 1, 0, 0), LinkRef(2**40, 7_000_000_000, 5, 12), LinkRef(9, -42, 1, 3)],
)
def test_a_code_reads_back_as_what_it_names(ref: LinkRef) -> None:
    signer = LinkSigner(KEY)
    code = signer.code(ref)
    assert code.replace("-", "").replace("_", "").isalnum()
    assert signer.read(code) == ref


def test_a_changed_code_or_another_key_reads_as_nothing() -> None:
    signer = LinkSigner(KEY)
    code = signer.code(LinkRef(12, 345, 0, 1))
    flipped = code[:3] + ("A" if code[3] != "A" else "B") + code[4:]
    assert signer.read(flipped) is None
    assert LinkSigner(bytes(32)).read(code) is None
    for junk in ("", "x", "%%%", "é", "A" * 200, code + "A"):
        assert signer.read(junk) is None


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        LinkSigner(b"short")


def test_links_are_the_http_buttons_then_the_copys_links_when_asked() -> None:
    steps = _steps()
    assert links(steps, copy_links=False) == [
        "https://loja.example/pix?p=1&q=2",
        "http://a.example",
    ]
    assert links(steps, copy_links=True)[2:] == ["https://loja.example/blog?a=1&b=2"]


def test_a_tracker_replaces_each_link_with_its_own_code_in_the_same_order() -> None:
    tracked_links = Links.of("https://disparo.example/", KEY)
    tracker = tracked_links.tracker(77, copy_links=True, variants=["A", "B"])
    steps = _steps()
    tracked = tracker.apply(steps, 555, "B")
    urls = links(tracked, copy_links=True)
    assert len(urls) == 3
    assert all(url.startswith("https://disparo.example/r/") for url in urls)
    refs = [tracked_links.signer.read(url.rsplit("/", 1)[1]) for url in urls]
    assert refs == [LinkRef(77, 555, 2, n) for n in range(3)]
    keyboard = tracked[0].params["reply_markup"]["inline_keyboard"]
    assert keyboard[1][0]["url"] == "tg://resolve?domain=loja"  # not http: left alone
    assert 'href="tg://user?id=1"' in tracked[0].params["text"]
    assert (
        steps[0].params["reply_markup"]["inline_keyboard"][0][0]["url"].startswith("https://loja")
    )


def test_audio_tracks_the_message_that_carries_the_copy() -> None:
    tracker = Links.of("https://d.example", KEY).tracker(1, copy_links=False, variants=[])
    audio, text = tracker.apply(_steps("audio", "https://cdn.example/a.mp3"), 9, None)
    assert audio.params == {"audio": "https://cdn.example/a.mp3"}
    assert text.params["reply_markup"]["inline_keyboard"][0][0]["url"].startswith(
        "https://d.example/r/"
    )


def test_a_tracker_is_not_needed_without_links() -> None:
    tracker = Links.of("https://d.example", KEY).tracker(1, copy_links=False, variants=[])
    plain = delivery_steps(
        copy=COPY, media_type="none", media_url=None, buttons=None, paid_broadcast=False
    )
    assert tracker.needed([plain]) is None
    assert tracker.needed([plain, _steps()]) is tracker
