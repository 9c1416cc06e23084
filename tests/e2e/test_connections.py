"""A real `disparo api` cuts idle and slow connections within DISPARO_HTTP_READ_TIMEOUT_S and
DISPARO_HTTP_KEEP_ALIVE_S, and turns requests away with 503 past DISPARO_HTTP_MAX_CONNECTIONS."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "connections-Admin-Token-3f9a1c"
READ_TIMEOUT_S = 1.0
KEEP_ALIVE_S = 1.0
MAX_CONNECTIONS = 4
SLACK_S = 2.0  # what a busy 2-core machine may add to a timer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def api_address(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    """`disparo api` with short bounds, on a fresh SQLite database, for the module."""
    workdir = tmp_path_factory.mktemp("connections")
    database = workdir / "disparo.sqlite3"
    shutil.copyfile(sqlite_template, database)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPARO_")} | {
        "DISPARO_DATABASE_URL": f"sqlite:///{database}",
        "DISPARO_ADMIN_TOKEN": ADMIN_TOKEN,
        "DISPARO_TELEGRAM_API_URL": "http://127.0.0.1:9",
        "DISPARO_HTTP_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
        "DISPARO_HTTP_KEEP_ALIVE_S": str(int(KEEP_ALIVE_S)),
        "DISPARO_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    log = workdir / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "disparo", "api", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield ("127.0.0.1", port)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _connect(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, timeout=5)


def _read_until_closed(sock: socket.socket, started: float, limit_s: float) -> tuple[float, bytes]:
    """Read whatever comes until the server closes; (seconds since `started`, bytes read).
    Fails when the socket is still open after `limit_s`."""
    received = b""
    while True:
        left = started + limit_s - time.monotonic()
        assert left > 0, f"still open after {limit_s} s; read {received[:200]!r}"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return time.monotonic() - started, received
        received += chunk


def _request(path: str, *, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: disparo\r\n{extra}\r\n".encode()


def test_a_socket_that_sends_nothing_is_closed(api_address: tuple[str, int]) -> None:
    """A connection that never sends a byte is closed once the read timeout has passed."""
    with closing(_connect(api_address)) as sock:
        started = time.monotonic()
        took_s, received = _read_until_closed(sock, started, READ_TIMEOUT_S + SLACK_S)
    assert received == b""
    assert took_s >= READ_TIMEOUT_S * 0.9


def test_a_header_sent_a_byte_at_a_time_is_cut_off(api_address: tuple[str, int]) -> None:
    """Half a header, then one byte every 0.2 s: the deadline counts from the connection,
    so the trickle does not keep it open."""
    with closing(_connect(api_address)) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: disparo\r\nX-Slow: ")
        try:
            while time.monotonic() - started < READ_TIMEOUT_S + SLACK_S:
                sock.sendall(b"a")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed it: that is the point
        took_s, received = _read_until_closed(sock, started, READ_TIMEOUT_S + SLACK_S)
    assert received == b""
    assert took_s >= READ_TIMEOUT_S * 0.9


def test_an_idle_keep_alive_connection_is_closed(api_address: tuple[str, int]) -> None:
    """After an answer, a connection that asks nothing more is closed after the keep-alive."""
    with closing(_connect(api_address)) as sock:
        sock.sendall(_request("/healthz"))
        started = time.monotonic()
        took_s, received = _read_until_closed(sock, started, KEEP_ALIVE_S + SLACK_S)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert took_s >= KEEP_ALIVE_S * 0.9


def test_a_body_that_stops_arriving_is_a_408_and_the_connection_closes(
    api_address: tuple[str, int],
) -> None:
    """Headers promise 100 bytes, 10 come, then nothing: a 408 in the error shape, then the
    connection is closed."""
    head = (
        "POST /admin/api/shots HTTP/1.1\r\nHost: disparo\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    with closing(_connect(api_address)) as sock:
        sock.sendall(head.encode() + b'{"bot_slug')
        started = time.monotonic()
        took_s, received = _read_until_closed(sock, started, READ_TIMEOUT_S + SLACK_S)
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", received
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "request_timeout"
    assert "DISPARO_HTTP_READ_TIMEOUT_S" in body["error"]["message"]
    assert took_s >= READ_TIMEOUT_S * 0.9


def test_requests_past_the_connection_limit_get_503(api_address: tuple[str, int]) -> None:
    """With DISPARO_HTTP_MAX_CONNECTIONS connections open, a new request is a 503; once the
    idle ones are cut, requests are served again."""
    with ExitStack() as idle:
        for _ in range(MAX_CONNECTIONS):
            idle.enter_context(closing(_connect(api_address)))
        with closing(_connect(api_address)) as sock:
            sock.sendall(_request("/healthz", extra="Connection: close\r\n"))
            _, refused = _read_until_closed(sock, time.monotonic(), SLACK_S)
        assert refused.startswith(b"HTTP/1.1 503 "), refused
    time.sleep(0.2)  # the server notices the closed sockets
    with closing(_connect(api_address)) as sock:
        sock.sendall(_request("/healthz", extra="Connection: close\r\n"))
        _, served = _read_until_closed(sock, time.monotonic(), SLACK_S)
    assert served.startswith(b"HTTP/1.1 200 "), served
