"""Schemathesis over /openapi.json against real `disparo serve` and simulator processes, on
SQLite and PostgreSQL: no 5xx, no answer outside the documented schema; every admin operation
refuses a request without the token; oversized bodies are refused with 413.

The budget here is small (CI); `bench/fuzz_api.py` runs the same harness with hundreds of
cases per operation. DISPARO_FUZZ_SEED fixes the generated cases (the failure message names
the seed of the run); DISPARO_FUZZ_EXAMPLES changes the budget.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import socket
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fuzz_harness import (
    ADMIN,
    ADMIN_TOKEN,
    LOJA,
    Stack,
    fuzz,
    running_stack,
)
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("DISPARO_FUZZ_EXAMPLES", "30"))
SEED = int(os.environ.get("DISPARO_FUZZ_SEED") or random.randrange(2**32))
POSTGRES_ADMIN_URL = os.environ.get(
    "DISPARO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MIB = 1024 * 1024


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One seeded stack per backend for the module, on a fresh migrated database."""
    workdir = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        path = workdir / "disparo.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        with running_stack(make_url(f"sqlite:///{path}"), workdir) as running:
            yield running
        return
    template = request.getfixturevalue("pg_template")  # named <prefix>_template
    name = template.removesuffix("_template") + "_fuzz"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    try:
        url = make_url(POSTGRES_ADMIN_URL).set(database=name)
        with running_stack(url, workdir) as running:
            yield running
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_operations(stack: Stack) -> list[tuple[str, str]]:
    paths = stack.session.get(f"{stack.base_url}/openapi.json", timeout=10).json()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path.startswith(ADMIN)
    ]


def _concrete(stack: Stack, path: str) -> str:
    return path.replace("{shot_id}", str(stack.shot_ids[1])).replace("{slug}", LOJA)


def _snapshot(stack: Stack) -> Any:
    bots = stack.admin("GET", f"{ADMIN}/bots").json()
    shots = stack.admin("GET", f"{ADMIN}/shots?bot_slug={LOJA}&limit=100").json()
    contacts = stack.admin("GET", f"{ADMIN}/bots/{LOJA}/metrics").json()
    return bots, shots, contacts


def test_admin_operations_refuse_requests_without_the_token(stack: Stack) -> None:
    """Every /admin/api operation answers 401 (error shape, WWW-Authenticate) to no token, a
    wrong one, another scheme, and even a malformed body; nothing changes meanwhile."""
    operations = _admin_operations(stack)
    assert len(operations) >= 23
    before = _snapshot(stack)
    refusals = {
        "none": {},
        "wrong": {"Authorization": "Bearer not-the-admin-token-at-all"},
        "prefix": {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
        "longer": {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        "scheme": {"Authorization": f"Basic {ADMIN_TOKEN}"},
        "bare": {"Authorization": ADMIN_TOKEN},
    }
    bodies: list[tuple[bytes | None, str | None]] = [(None, None), (b"{", "application/json")]
    for method, path in operations:
        url = stack.base_url + _concrete(stack, path)
        for name, headers in refusals.items():
            for body, content_type in bodies:
                sent = dict(headers)
                if content_type:
                    sent["Content-Type"] = content_type
                answer = stack.session.request(method, url, headers=sent, data=body, timeout=10)
                where = (method, path, name, body)
                assert answer.status_code == 401, (where, answer.text)
                assert answer.headers["WWW-Authenticate"] == "Bearer", where
                assert answer.json()["error"]["code"] == "unauthorized", where
                assert ADMIN_TOKEN not in answer.text
    assert _snapshot(stack) == before


def test_every_operation_answers_within_its_documented_schema(stack: Stack) -> None:
    """Positive and negative cases of every operation, with the token: no 5xx, no status,
    body, content type or header outside the OpenAPI document, and no unhandled error."""
    started = time.monotonic()
    report = fuzz(stack, max_examples=EXAMPLES, run_seed=SEED)
    took_s = time.monotonic() - started
    replay = f"replay with DISPARO_FUZZ_SEED={SEED} ({report.cases} cases in {took_s:.0f} s)"
    listed = "\n".join(str(failure) for failure in report.failures.values())
    assert report.server_errors == 0, f"{replay}\n{listed}"
    assert not report.failures, f"{replay}\n{listed}"
    assert not report.transport_errors, f"{replay}\n{report.transport_errors[:5]}"
    assert stack.unexpected_errors() == [], replay
    documented = _admin_operations(stack)
    assert report.operations >= len(documented) + 4  # + webhook, healthz, readyz, metrics
    assert report.cases >= report.operations * EXAMPLES
    # The seeded resources let every operation succeed too, not only fail validation.
    missed = [
        operation
        for operation, counts in report.by_operation.items()
        if not any(200 <= status < 300 for status in counts)
    ]
    assert not missed, (missed, replay, {m: report.by_operation[m] for m in missed})


# oversized bodies -----------------------------------------------------------------------------


def _raw_request(stack: Stack, head: str, chunks: Iterator[bytes] | None = None) -> tuple[int, str]:
    """Send a request over a raw socket, stopping the body as soon as the server answers."""
    host, port = stack.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        for chunk in chunks or ():
            if select.select([sock], [], [], 0)[0]:
                break  # answered already: send no more
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < _expected_length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    status_line, _, rest = answer.decode().partition("\r\n")
    return int(status_line.split()[1]), rest.partition("\r\n\r\n")[2]


def _expected_length(answer: bytes) -> int:
    head, _, _ = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return 0


def _head(method: str, path: str, content_type: str, framing: str, extra: str = "") -> str:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: disparo\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        f"Content-Type: {content_type}\r\n{extra}{framing}\r\n"
    )


def _chunked(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
        sent += size
    yield b"0\r\n\r\n"


def _assert_refused(
    stack: Stack, method: str, path: str, content_type: str, limit: int, extra: str = ""
) -> None:
    declared = _head(method, path, content_type, f"Content-Length: {limit + 1}\r\n", extra)
    status, body = _raw_request(stack, declared)
    assert status == 413, body
    assert '"payload_too_large"' in body
    assert f"({limit // 1024} KiB)" in body
    streamed = _head(method, path, content_type, "Transfer-Encoding: chunked\r\n", extra)
    status, body = _raw_request(stack, streamed, _chunked(limit + MIB))
    assert status == 413, body
    assert '"payload_too_large"' in body


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", f"{ADMIN}/shots"), ("PATCH", f"{ADMIN}/shots/{{shot}}"),
     ("POST", f"{ADMIN}/shots/{{shot}}/test")],
)  # fmt: skip
def test_shot_bodies_above_1_mib_are_refused(stack: Stack, method: str, path: str) -> None:
    """The shot routes refuse a body over 1 MiB, declared or streamed, with a JSON 413."""
    _assert_refused(stack, method, path.format(shot=stack.shot_ids[1]), "application/json", MIB)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_bot_bodies_above_1_mib_are_refused(stack: Stack, method: str) -> None:
    """The bot routes refuse a body over 1 MiB, declared or streamed, with a JSON 413."""
    path = f"{ADMIN}/bots" if method == "POST" else f"{ADMIN}/bots/{LOJA}"
    _assert_refused(stack, method, path, "application/json", MIB)


@pytest.mark.parametrize("table", ["contacts", "events", "transactions"])
def test_import_bodies_above_64_mib_are_refused(stack: Stack, table: str) -> None:
    """The imports refuse a body over 64 MiB, declared or streamed, with a JSON 413."""
    path = f"{ADMIN}/bots/{LOJA}/{table}:import"
    _assert_refused(stack, "POST", path, "application/x-ndjson", 64 * MIB)


def test_webhook_bodies_above_1_mib_are_refused(stack: Stack) -> None:
    """Telegram's webhook route refuses a body over 1 MiB, declared or streamed, with a 413
    (the secret is checked first: without it the answer is 403 and the body is never read)."""
    secret = f"X-Telegram-Bot-Api-Secret-Token: {stack.webhook_secret}\r\n"
    _assert_refused(stack, "POST", f"/telegram/{LOJA}/webhook", "application/json", MIB, secret)


def test_an_import_above_the_json_limit_is_read(stack: Stack) -> None:
    """A 2 MiB import is read: imports have their own, larger limit."""
    line = b'{"telegram_id": 1, "first_name": "' + b"a" * 200 + b'"}\n'
    body = line * (2 * MIB // len(line))
    answer = stack.admin(
        "POST",
        f"{ADMIN}/bots/{LOJA}/contacts:import",
        data=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["rejected"] == 0
