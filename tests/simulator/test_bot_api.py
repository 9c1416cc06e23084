"""The simulated Bot API: tokens, methods, request bodies and the shape of its answers."""

from __future__ import annotations

import aiohttp


async def test_get_me_answers_a_user_for_a_well_formed_token(sim, token):
    """getMe on any well-formed token is a bot whose id is the token's digits."""
    status, body = await sim.call("getMe", http_method="GET")
    assert status == 200
    me = body["result"]
    assert body["ok"] is True
    assert me["id"] == int(token.split(":")[0])
    assert me["is_bot"] is True
    assert me["first_name"]
    assert me["username"].endswith("bot")
    assert me["can_join_groups"] is True
    again = await sim.call("getMe")
    assert again[1]["result"] == me  # derived deterministically


async def test_bad_tokens_get_401_unauthorized_byte_for_byte(sim):
    """Malformed tokens answer Telegram's exact 401 body."""
    for bad in ("123:short", "abc:" + "A" * 35, "123456:" + "A" * 34, "123456:" + "A" * 34 + "!"):
        async with sim.session.post(f"{sim.base_url}/bot{bad}/getMe") as response:
            assert response.status == 401
            assert await response.read() == (
                b'{"ok":false,"error_code":401,"description":"Unauthorized"}'
            )


async def test_unknown_method_is_404_not_found(sim):
    """A method Telegram does not have answers 404 Not Found."""
    status, body = await sim.call("sendTelepathy", json={"chat_id": 1})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_method_names_are_case_insensitive(sim):
    """SENDMESSAGE and sendmessage are sendMessage."""
    for name in ("SENDMESSAGE", "sendmessage", "SendMessage"):
        status, _ = await sim.call(name, json={"chat_id": 10, "text": name})
        assert status == 200
    status, _ = await sim.call("GETME")
    assert status == 200


async def test_json_form_multipart_and_query_bodies_are_all_read(sim):
    """JSON, urlencoded form, multipart form and GET query parameters all send a message."""
    status, json_body = await sim.call("sendMessage", json={"chat_id": 1, "text": "json"})
    assert status == 200
    assert json_body["result"]["text"] == "json"
    status, form = await sim.call("sendMessage", data={"chat_id": "2", "text": "form"})
    assert (status, form["result"]["text"]) == (200, "form")
    multipart = aiohttp.FormData()
    multipart.add_field("chat_id", "3")
    multipart.add_field("text", "multipart")
    status, multi = await sim.call("sendMessage", data=multipart)
    assert (status, multi["result"]["text"]) == (200, "multipart")
    status, query = await sim.call(
        "sendMessage", params={"chat_id": "4", "text": "query"}, http_method="GET"
    )
    assert (status, query["result"]["chat"]["id"]) == (200, 4)


async def test_form_reply_markup_is_json_serialized(sim):
    """A reply_markup sent in a form is a JSON string, echoed as an object."""
    markup = '{"inline_keyboard":[[{"text":"Comprar","url":"https://example.com/p"}]]}'
    status, body = await sim.call(
        "sendMessage", data={"chat_id": "5", "text": "oferta", "reply_markup": markup}
    )
    assert status == 200
    assert body["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Comprar"


async def test_send_message_returns_a_documented_message(sim, token):
    """The Message has message_id, from (the bot), chat (private), date, text and entities."""
    await sim.users({"id": 77, "first_name": "Ana", "last_name": "Lima", "username": "ana"})
    status, body = await sim.send(77, "<b>Olá</b> Ana", parse_mode="HTML")
    assert status == 200
    message = body["result"]
    assert message["message_id"] == 1
    assert message["from"]["id"] == int(token.split(":")[0])
    assert message["from"]["is_bot"] is True
    assert message["chat"] == {
        "id": 77,
        "first_name": "Ana",
        "last_name": "Lima",
        "username": "ana",
        "type": "private",
    }
    assert message["date"] > 1_600_000_000
    assert message["text"] == "Olá Ana"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 3}]
    _, second = await sim.send(77, "de novo")
    assert second["result"]["message_id"] == 2  # per chat, increasing


async def test_media_messages_carry_file_objects(sim):
    """sendPhoto, sendVideo and sendAudio answer PhotoSize arrays, Video and Audio objects."""
    url = "https://cdn.example.com/promo.jpg"
    _, photo = await sim.call("sendPhoto", json={"chat_id": 1, "photo": url, "caption": "foto"})
    sizes = photo["result"]["photo"]
    assert len(sizes) == 3
    assert all({"file_id", "file_unique_id", "width", "height"} <= set(size) for size in sizes)
    assert photo["result"]["caption"] == "foto"
    _, video = await sim.call(
        "sendVideo", json={"chat_id": 2, "video": "https://cdn.example.com/v.mp4"}
    )
    assert {"file_id", "file_unique_id", "width", "height", "duration"} <= set(
        video["result"]["video"]
    )
    _, audio = await sim.call(
        "sendAudio",
        json={"chat_id": 3, "audio": "https://cdn.example.com/a.mp3", "title": "Aula 1"},
    )
    assert audio["result"]["audio"]["title"] == "Aula 1"
    assert {"file_id", "file_unique_id", "duration"} <= set(audio["result"]["audio"])
    _, again = await sim.call("sendPhoto", json={"chat_id": 4, "photo": url})
    assert again["result"]["photo"][-1]["file_unique_id"] == sizes[-1]["file_unique_id"]


async def test_file_id_and_upload_are_accepted_as_media(sim):
    """A file_id is reused as given, and a multipart upload is an InputFile."""
    file_id = "AgACAgQAAxkBAAIBdGZ0" + "x" * 40
    _, by_id = await sim.call("sendPhoto", json={"chat_id": 1, "photo": file_id})
    assert by_id["result"]["photo"][-1]["file_id"] == file_id
    upload = aiohttp.FormData()
    upload.add_field("chat_id", "2")
    upload.add_field("audio", b"ID3fake", filename="aula.mp3", content_type="audio/mpeg")
    status, body = await sim.call("sendAudio", data=upload)
    assert status == 200
    assert body["result"]["audio"]["file_name"] == "aula.mp3"


async def test_copy_message_returns_a_message_id_and_copies_content(sim):
    """copyMessage answers a MessageId and delivers the source's content to the target."""
    _, source = await sim.send(1, "original")
    status, body = await sim.call(
        "copyMessage",
        json={"chat_id": 2, "from_chat_id": 1, "message_id": source["result"]["message_id"]},
    )
    assert (status, body["result"]) == (200, {"message_id": 1})
    copied = await sim.messages(2)
    assert copied[0]["method"] == "copyMessage"
    assert copied[0]["text"] == "original"
    status, missing = await sim.call(
        "copyMessage", json={"chat_id": 2, "from_chat_id": 1, "message_id": 99}
    )
    assert (status, missing["description"]) == (400, "Bad Request: message to copy not found")


async def test_missing_chat_id_and_text(sim):
    """Missing parameters answer Telegram's own sentences."""
    status, body = await sim.call("sendMessage", json={"text": "sem chat"})
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, body = await sim.call("sendMessage", json={"chat_id": 1})
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    status, body = await sim.call("sendPhoto", json={"chat_id": 1})
    assert (status, body["description"]) == (400, "Bad Request: there is no photo in the request")
