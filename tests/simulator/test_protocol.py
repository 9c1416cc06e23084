"""The HTTP/1.1 layer: keep-alive, pipelining in order, Connection: close, malformed input,
bodies over the size limit, the three body encodings' edge cases."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp

from disparo.simulator.routes import MAX_BODY_BYTES

TOKEN_PATH = "/bot123456789:TTHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def _request(path: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line = await reader.readline()
    headers: dict[str, str] = {}
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


async def _connect(base_url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(base_url)
    return await asyncio.open_connection(parts.hostname, parts.port)


async def test_pipelined_requests_are_answered_in_order(sim):
    """Requests written back to back on one connection get answers in the same order."""
    reader, writer = await _connect(sim.base_url)
    try:
        writer.write(
            b"".join(
                _request(f"{TOKEN_PATH}/sendMessage", b'{"chat_id":%d,"text":"m%d"}' % (i, i))
                for i in range(1, 6)
            )
        )
        await writer.drain()
        for i in range(1, 6):
            status, headers, body = await _read_response(reader)
            assert status == 200
            assert headers["connection"] == "keep-alive"
            assert headers["server"] == "nginx/1.18.0"
            assert b'"text":"m%d"' % i in body
    finally:
        writer.close()
        await writer.wait_closed()


async def test_connection_close_is_honoured(sim):
    """A request with Connection: close is answered, then the server closes."""
    reader, writer = await _connect(sim.base_url)
    try:
        writer.write(_request(f"{TOKEN_PATH}/getMe", extra="Connection: close\r\n"))
        status, headers, _ = await _read_response(reader)
        assert status == 200
        assert headers["connection"] == "close"
        assert await reader.read() == b""
    finally:
        writer.close()
        await writer.wait_closed()


async def test_malformed_http_gets_400_and_close(sim):
    """Garbage instead of HTTP is answered 400 and the connection is closed."""
    reader, writer = await _connect(sim.base_url)
    try:
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        status, _, _ = await _read_response(reader)
        assert status == 400
        assert await reader.read() == b""
    finally:
        writer.close()
        await writer.wait_closed()


async def test_other_paths_are_404(sim):
    """A path outside /bot and /sim is Telegram's 404."""
    async with sim.session.get(f"{sim.base_url}/favicon.ico") as response:
        assert response.status == 404
        assert (await response.json())["description"] == "Not Found"


async def test_a_body_over_the_limit_is_413_in_telegrams_envelope(sim):
    """A body past the upload limit is refused 413 with Telegram's JSON, then closed."""
    reader, writer = await _connect(sim.base_url)
    try:
        size = MAX_BODY_BYTES + 1024 * 1024
        head = f"POST {TOKEN_PATH}/sendDocument HTTP/1.1\r\nHost: sim\r\n"
        head += f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
        writer.write(head.encode())
        chunk = b"x" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        status, _, body = await _read_response(reader)
        assert (status, body) == (
            413,
            b'{"ok":false,"error_code":413,"description":"Request Entity Too Large"}',
        )
    finally:
        writer.close()
        await writer.wait_closed()


async def test_query_values_are_decoded_once(sim):
    """A percent-encoded `&` in a query value stays in the value."""
    status, body = await sim.call(
        "sendMessage", params={"chat_id": "1", "text": "a&b=c"}, http_method="GET"
    )
    assert (status, body["result"]["text"]) == (200, "a&b=c")


async def test_multipart_upload_and_malformed_multipart(sim):
    """A multipart upload is read with its file; a broken or boundless multipart body is 400."""
    upload = aiohttp.FormData()
    upload.add_field("chat_id", "2")
    upload.add_field("caption", "ção")
    upload.add_field("photo", b"\xff\xd8" * 1000, filename="promo.jpg", content_type="image/jpeg")
    status, body = await sim.call("sendPhoto", data=upload)
    assert (status, body["result"]["caption"]) == (200, "ção")
    broken = b"--XYZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XYZ--\r\n"
    for content_type in ("multipart/form-data; boundary=XYZ", "multipart/form-data"):
        async with sim.session.post(
            f"{sim.base_url}{TOKEN_PATH}/sendMessage",
            data=broken,
            headers={"Content-Type": content_type},
        ) as response:
            assert response.status == 400
            description = (await response.json())["description"]
            assert description.startswith("Bad Request: ")
            assert "multipart" in description
