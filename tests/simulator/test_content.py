"""What Telegram refuses in content: HTML parse mode, lengths in UTF-16, media and buttons."""

from __future__ import annotations

import pytest

from disparo.simulator.html import HtmlError, parse_html

PARSE = "Bad Request: can't parse entities: "


async def _html(sim, text, chat_id=1):
    return await sim.send(chat_id, text, parse_mode="HTML")


async def test_valid_nested_html_passes_with_entities(sim):
    """Nested allowed tags pass and come back as entities with UTF-16 offsets."""
    text = (
        '<b>Promo <i>só hoje</i></b> <u>sub</u> <s>old</s> <a href="https://e.com/x">link</a> '
        '<span class="tg-spoiler">sp</span> <tg-spoiler>s2</tg-spoiler> <code>c</code> '
        '<pre><code class="language-python">x = 1</code></pre> '
        "<blockquote expandable>citação</blockquote> "
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    status, body = await _html(sim, text)
    assert status == 200, body
    types = [entity["type"] for entity in body["result"]["entities"]]
    assert types == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "text_link",
        "spoiler",
        "spoiler",
        "code",
        "pre",
        "expandable_blockquote",
        "custom_emoji",
    ]
    pre = body["result"]["entities"][8]
    assert pre["language"] == "python"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<b>negrito", 'Can\'t find end tag corresponding to start tag "b"'),
        ("Olá <b>mundo <i>x</i>", 'Can\'t find end tag corresponding to start tag "b"'),
        ("hello world <foo>x</foo>", 'Unsupported start tag "foo" at byte offset 12'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("fim</b>", "Unexpected end tag at byte offset 3"),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="bold">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("é<foo>", 'Unsupported start tag "foo" at byte offset 2'),
    ],
)
async def test_invalid_html_is_refused_with_telegram_wording(sim, text, error):
    """Unclosed, unknown and mismatched tags answer 400 can't parse entities, Telegram-worded."""
    status, body = await _html(sim, text)
    assert (status, body["description"]) == (400, PARSE + error)


async def test_html_entities_are_decoded(sim):
    """&lt; &gt; &amp; &quot; and numeric references decode; unknown ones stay literal."""
    status, body = await _html(
        sim, "1 &lt; 2 &amp;&amp; 3 &gt; 2 &quot;ok&quot; &#65;&#x42; &nbsp;"
    )
    assert status == 200
    assert body["result"]["text"] == '1 < 2 && 3 > 2 "ok" AB &nbsp;'


async def test_unknown_parse_mode_is_refused(sim):
    """A parse_mode Telegram lacks is 400 unsupported parse_mode."""
    status, body = await sim.send(1, "x", parse_mode="BBCode")
    assert (status, body["description"]) == (400, "Bad Request: unsupported parse_mode")


async def test_text_length_is_counted_in_utf16_after_parsing(sim):
    """4096 UTF-16 units pass, 4097 fail; emoji count twice; tags do not count."""
    assert (await sim.send(1, "a" * 4096))[0] == 200
    status, body = await sim.send(2, "a" * 4097)
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    assert (await sim.send(3, "😀" * 2048))[0] == 200
    status, body = await sim.send(4, "😀" * 2049)  # 2049 code points, 4098 UTF-16 units
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    assert (await _html(sim, "<b>" + "a" * 4096 + "</b>", chat_id=5))[0] == 200


async def test_caption_length_is_1024_utf16_units(sim):
    """A caption of 1024 units passes; 1025, or 513 emoji, is too long."""
    photo = "https://cdn.example.com/p.jpg"
    ok = await sim.call("sendPhoto", json={"chat_id": 1, "photo": photo, "caption": "c" * 1024})
    assert ok[0] == 200
    for chat_id, caption in ((2, "c" * 1025), (3, "😀" * 513)):
        status, body = await sim.call(
            "sendPhoto", json={"chat_id": chat_id, "photo": photo, "caption": caption}
        )
        assert (status, body["description"]) == (400, "Bad Request: message caption is too long")


async def test_empty_text_is_refused(sim):
    """Empty or blank text, also after HTML parsing, is message text is empty."""
    for text, mode in (("", None), ("   \n ", None), ("<b> </b>", "HTML")):
        extra = {"parse_mode": mode} if mode else {}
        status, body = await sim.send(1, text, **extra)
        assert (status, body["description"]) == (400, "Bad Request: message text is empty")


@pytest.mark.parametrize(
    ("media", "description"),
    [
        ("ftp://cdn.example.com/a.jpg", "Bad Request: wrong HTTP URL specified"),
        ("not a url", "Bad Request: wrong HTTP URL specified"),
        ("short", "Bad Request: wrong HTTP URL specified"),
        ("https://", "Bad Request: wrong HTTP URL specified"),
        ("https://img.invalid/a.jpg", "Bad Request: wrong file identifier/HTTP URL specified"),
    ],
)
@pytest.mark.parametrize("method", ["sendPhoto", "sendVideo", "sendAudio"])
async def test_bad_media_is_refused(sim, method, media, description):
    """Media that is neither an http(s) URL nor a plausible file_id, or unfetchable, is 400."""
    field = method.removeprefix("send").lower()
    status, body = await sim.call(method, json={"chat_id": 1, field: media})
    assert (status, body["description"]) == (400, description)


@pytest.mark.parametrize(
    ("button", "description"),
    [
        ({"text": "Ir", "url": "javascript:alert(1)"}, "Bad Request: BUTTON_URL_INVALID"),
        ({"text": "Ir", "url": "https://"}, "Bad Request: BUTTON_URL_INVALID"),
        ({"text": "Ir", "url": "exemplo.com"}, "Bad Request: BUTTON_URL_INVALID"),
        ({"text": "", "url": "https://e.com"}, "Bad Request: BUTTON_TEXT_INVALID"),
        (
            {"text": "Ir"},
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        ({"text": "Ir", "callback_data": "x" * 65}, "Bad Request: BUTTON_DATA_INVALID"),
    ],
)
async def test_bad_inline_buttons_are_refused(sim, button, description):
    """Inline buttons need text and a valid action: else Telegram's 400."""
    markup = {"inline_keyboard": [[button]]}
    status, body = await sim.send(1, "x", reply_markup=markup)
    assert (status, body["description"]) == (400, description)


async def test_good_inline_buttons_are_echoed(sim):
    """http, https and tg button URLs and callback data pass and are echoed."""
    markup = {
        "inline_keyboard": [
            [
                {"text": "Site", "url": "https://e.com/p?a=1"},
                {"text": "TG", "url": "tg://resolve?domain=x"},
            ],
            [{"text": "Sim", "callback_data": "yes"}],
        ]
    }
    status, body = await sim.send(1, "x", reply_markup=markup)
    assert status == 200
    assert body["result"]["reply_markup"] == markup


async def test_unreadable_reply_markup_is_refused(sim):
    """A reply_markup that is not a JSON object is can't parse reply keyboard markup."""
    status, body = await sim.call(
        "sendMessage", data={"chat_id": "1", "text": "x", "reply_markup": "{not json"}
    )
    assert (status, body["description"]) == (
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
    )


def test_parse_html_offsets_are_utf16():
    """Entity offsets and lengths count astral characters as two units."""
    text, entities = parse_html("😀 <b>é😀</b>")
    assert text == "😀 é😀"
    assert entities == [{"type": "bold", "offset": 3, "length": 3}]


def test_parse_html_reports_byte_offsets():
    """Error offsets are byte offsets in the UTF-8 source, as Telegram gives them."""
    with pytest.raises(HtmlError, match='Unsupported start tag "x" at byte offset 7'):
        parse_html("ação <x>")  # a, o and the space are 1 byte each; ç and ã are 2


def test_parse_html_text_link_and_mention():
    """<a href> makes text_link; tg://user?id= makes text_mention; a bad href is dropped."""
    _, entities = parse_html(
        '<a href="https://e.com">a</a><a href="tg://user?id=42">b</a><a href="javascript:x">c</a>'
    )
    assert entities[0] == {"type": "text_link", "offset": 0, "length": 1, "url": "https://e.com"}
    assert entities[1]["type"] == "text_mention"
    assert entities[1]["user"]["id"] == 42
    assert len(entities) == 2


def test_parse_html_invalid_custom_emoji():
    """A tg-emoji without a numeric emoji-id is refused."""
    with pytest.raises(HtmlError, match="Invalid custom emoji identifier specified"):
        parse_html('<tg-emoji emoji-id="abc">x</tg-emoji>')
