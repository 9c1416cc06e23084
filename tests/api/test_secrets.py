"""Bot tokens and the admin token never appear in a response or a log line; tokens at rest."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from api_support import ADMIN_TOKEN, OTHER_TOKEN, SECRET_KEY, TOKEN, BuildApp, Client, Serve
from cryptography.fernet import Fernet

from disparo.config import ConfigError, Settings
from disparo.db.secrets import SEALED_PREFIX, SecretKeyError, TokenCipher
from disparo.services import token_cipher

SECRETS = (TOKEN, OTHER_TOKEN, TOKEN.split(":")[1], OTHER_TOKEN.split(":")[1], ADMIN_TOKEN)


async def test_tokens_never_in_responses_or_logs(
    build_app: BuildApp,
    serve: Serve,
    sim: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every route that touches a token answers and logs without it, errors included."""
    caplog.set_level(logging.DEBUG)
    api = await serve(build_app(poll_refresh_s=0.05))
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 42}, {"id": 43, "state": "blocked"}])
    answers: list[Any] = [
        await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN, "polling": True}),
        await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN}),
        await api.post("/admin/api/bots", {"slug": "bad", "token": "12:short"}),
        await api.get("/admin/api/bots"),
        await api.get("/admin/api/bots/loja"),
        await api.patch("/admin/api/bots/loja", {"token": OTHER_TOKEN}),
        await api.patch("/admin/api/bots/loja", {"token": TOKEN}),
        await api.post("/admin/api/bots/loja/webhook"),
        await api.get("/admin/api/bots", token="wrong"),
        await api.get("/admin/api/bots", token=ADMIN_TOKEN[:-1]),
    ]
    shot = await api.post(
        "/admin/api/shots", {"bot_slug": "loja", "target": "started", "copy": "oi"}
    )
    answers += [
        shot,
        await api.post(f"/admin/api/shots/{shot.body['id']}/test", {"telegram_id": 42}),
        await api.post(f"/admin/api/shots/{shot.body['id']}/test", {"telegram_id": 43}),
    ]
    await sim.post(f"/sim/bots/{TOKEN}/revoke")
    answers.append(await api.patch("/admin/api/bots/loja", {"token": TOKEN}))
    answers.append(await api.get("/metrics", token=None))
    assert [a.status for a in answers[:3]] == [201, 409, 422]
    assert answers[11].status == 200
    for answer in answers:
        text = answer.text + str(answer.headers)
        for secret in SECRETS:
            assert secret not in text, (secret, answer.text)
    for _ in range(200):  # the poller meets the revoked token and logs its failure
        if any(r.getMessage().startswith("polling failed") for r in caplog.records):
            break
        await asyncio.sleep(0.01)
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "polling failed" in logged
    for secret in SECRETS:
        assert secret not in logged


def test_cipher_seals_and_opens() -> None:
    """With a key, tokens are stored sealed and open back; each seal differs."""
    cipher = TokenCipher(SECRET_KEY)
    sealed = cipher.seal(TOKEN)
    assert sealed.startswith(SEALED_PREFIX)
    assert TOKEN not in sealed
    assert cipher.seal(TOKEN) != sealed
    assert cipher.open(sealed) == TOKEN
    assert cipher.encrypts


def test_cipher_without_key_stores_plain_and_opens_old_plain_tokens() -> None:
    """Without a key tokens are stored as they are; with one, plain tokens still open."""
    plain = TokenCipher(None)
    assert not plain.encrypts
    assert plain.seal(TOKEN) == TOKEN
    assert TokenCipher(SECRET_KEY).open(TOKEN) == TOKEN


def test_cipher_errors_name_the_setting() -> None:
    """A sealed token without the key, or with another key, says to set DISPARO_SECRET_KEY."""
    sealed = TokenCipher(SECRET_KEY).seal(TOKEN)
    with pytest.raises(SecretKeyError, match="DISPARO_SECRET_KEY is not set"):
        TokenCipher(None).open(sealed)
    with pytest.raises(SecretKeyError, match="another DISPARO_SECRET_KEY"):
        TokenCipher(Fernet.generate_key().decode()).open(sealed)
    with pytest.raises(SecretKeyError, match="not a Fernet key"):
        TokenCipher("not-a-key")


def test_a_bad_secret_key_is_a_config_error() -> None:
    """services refuses to start with a malformed DISPARO_SECRET_KEY."""
    settings = Settings(_env_file=None, secret_key="short")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="DISPARO_SECRET_KEY"):
        token_cipher(settings)
