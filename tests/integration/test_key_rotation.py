"""Bot tokens and webhook secrets at rest under key changes: several keys, re-sealing in one
transaction, and the start-up check that names DISPARO_SECRET_KEY, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import insert, select

from disparo.config import ConfigError
from disparo.db.bots import Resealed, get_bot, reseal_secrets
from disparo.db.engine import Database
from disparo.db.secrets import SEALED_PREFIX, SecretKeyError, TokenCipher, generate_key
from disparo.db.tables import bots
from disparo.services import check_stored_tokens

OLD, NEW, OTHER = (generate_key() for _ in range(3))
TOKENS = {
    "plain": "111111:TTPlainPlainPlainPlainPlainPlainPla",
    "sealed": "222222:TTSealedSealedSealedSealedSealedSe",
}
WEBHOOK_SECRETS = {
    "plain": "plain-webhook-secret-Qm9vZ2llV29vZ2llX3Rlc3Q",
    "sealed": "sealed-webhook-secret-U2VhbGVkX3dlYmhvb2tfc2Vj",
}


async def _store(db: Database, cipher_for: dict[str, TokenCipher]) -> None:
    async with db.write() as conn:
        for slug, token in TOKENS.items():
            cipher = cipher_for[slug]
            await conn.execute(
                insert(bots).values(
                    slug=slug,
                    token=cipher.seal(token),
                    webhook_secret=cipher.seal(WEBHOOK_SECRETS[slug]),
                )
            )


async def _raw(db: Database, column: str = "token") -> dict[str, str]:
    async with db.read() as conn:
        query = select(bots.c.slug, bots.c[column])
        return dict((await conn.execute(query)).tuples().all())


def test_keygen_makes_distinct_fernet_keys() -> None:
    """Each generated key is a valid Fernet key, and none repeats."""
    keys = {generate_key() for _ in range(5)}
    assert len(keys) == 5
    for key in keys:
        Fernet(key.encode())


def test_the_first_key_seals_and_every_key_opens() -> None:
    """DISPARO_SECRET_KEY may list keys (the first seals); DISPARO_OLD_SECRET_KEY only opens."""
    by_old = TokenCipher(OLD).seal(TOKENS["sealed"])
    listed = TokenCipher(f"{NEW}, {OTHER}", OLD)
    assert listed.open(by_old) == TOKENS["sealed"]
    assert listed.open(TokenCipher(OTHER).seal("1:x")) == "1:x"
    assert TokenCipher(NEW).open(listed.seal("1:y")) == "1:y"
    with pytest.raises(SecretKeyError, match="another DISPARO_SECRET_KEY"):
        TokenCipher(OTHER).open(listed.seal("1:y"))
    with pytest.raises(SecretKeyError, match="DISPARO_OLD_SECRET_KEY is set but DISPARO_SECRET"):
        TokenCipher(None, OLD)
    with pytest.raises(SecretKeyError, match="key 2 of the comma-separated list") as refused:
        TokenCipher(f"{NEW},not-a-key")
    assert "not-a-key" not in str(refused.value)  # a key, even a bad one, is never echoed


async def test_rotation_seals_every_token_and_webhook_secret_with_the_new_key(
    db: Database,
) -> None:
    """Plain and old-key tokens and webhook secrets are all sealed with the new key, in place;
    the old key alone opens none of them afterwards, and no plaintext is left in the columns."""
    await _store(db, {"plain": TokenCipher(None), "sealed": TokenCipher(OLD)})
    before = {"token": await _raw(db), "webhook_secret": await _raw(db, "webhook_secret")}
    assert before["token"]["plain"] == TOKENS["plain"]
    assert before["webhook_secret"]["plain"] == WEBHOOK_SECRETS["plain"]
    rotating = TokenCipher(NEW, OLD)
    async with db.write() as conn:
        done = await reseal_secrets(conn, rotating)
    assert done == Resealed(bots=2, plain_tokens=1, plain_webhook_secrets=1)
    new_only, old_only = TokenCipher(NEW), TokenCipher(OLD)
    for column, secrets in (("token", TOKENS), ("webhook_secret", WEBHOOK_SECRETS)):
        after = await _raw(db, column)
        for slug, secret in secrets.items():
            assert after[slug].startswith(SEALED_PREFIX)
            assert after[slug] != before[column][slug]
            assert secret not in after[slug]
            assert secret.rpartition(":")[2] not in after[slug]
            assert new_only.open(after[slug]) == secret
            assert not old_only.opens(after[slug])
    async with db.read() as conn:
        record = await get_bot(conn, new_only, "sealed")
    assert record is not None
    assert (record.token, record.webhook_secret) == (TOKENS["sealed"], WEBHOOK_SECRETS["sealed"])


async def test_rotation_with_a_wrong_old_key_changes_nothing(db: Database) -> None:
    """A token the given keys cannot open stops the rotation before anything is written: the
    error names the bot and the variable, and every stored value is byte-for-byte the same."""
    await _store(db, {"plain": TokenCipher(None), "sealed": TokenCipher(OLD)})
    before = await _raw(db)
    with pytest.raises(SecretKeyError) as refused:
        async with db.write() as conn:
            await reseal_secrets(conn, TokenCipher(NEW, OTHER))
    message = str(refused.value)
    assert "(sealed)" in message
    assert "DISPARO_OLD_SECRET_KEY" in message
    assert "Nothing was changed" in message
    assert await _raw(db) == before


async def test_a_webhook_secret_the_keys_cannot_open_stops_rotation_and_start(
    db: Database,
) -> None:
    """A webhook secret sealed with an unknown key counts like a token: the rotation names
    its bot and changes nothing, and the start-up check refuses the key."""
    async with db.write() as conn:
        await conn.execute(
            insert(bots).values(
                slug="odd",
                token=TokenCipher(OLD).seal(TOKENS["plain"]),
                webhook_secret=TokenCipher(OTHER).seal(WEBHOOK_SECRETS["plain"]),
            )
        )
    before = await _raw(db, "webhook_secret")
    with pytest.raises(SecretKeyError, match=r"webhook secrets of 1 bot\(s\) \(odd\)"):
        async with db.write() as conn:
            await reseal_secrets(conn, TokenCipher(NEW, OLD))
    assert await _raw(db, "webhook_secret") == before
    with pytest.raises(ConfigError, match="odd cannot be opened with DISPARO_SECRET_KEY"):
        await check_stored_tokens(db, TokenCipher(NEW, OLD))


async def test_rotation_needs_a_key_to_seal_with(db: Database) -> None:
    """Without DISPARO_SECRET_KEY there is nothing to seal with: refused, nothing changed."""
    await _store(db, {"plain": TokenCipher(None), "sealed": TokenCipher(OLD)})
    before = await _raw(db)
    with pytest.raises(SecretKeyError, match="DISPARO_SECRET_KEY is not set"):
        async with db.write() as conn:
            await reseal_secrets(conn, TokenCipher(None))
    assert await _raw(db) == before


async def test_start_refuses_a_key_that_cannot_open_the_stored_tokens(db: Database) -> None:
    """The start-up check names DISPARO_SECRET_KEY and the bots when the key is missing or
    wrong, and passes with the right key (or with the old one listed during a rotation)."""
    await _store(db, {"plain": TokenCipher(None), "sealed": TokenCipher(OLD)})
    with pytest.raises(ConfigError, match="DISPARO_SECRET_KEY is not set") as missing:
        await check_stored_tokens(db, TokenCipher(None))
    assert "sealed" in str(missing.value)
    with pytest.raises(ConfigError, match="cannot be opened with DISPARO_SECRET_KEY"):
        await check_stored_tokens(db, TokenCipher(OTHER))
    await check_stored_tokens(db, TokenCipher(OLD))
    await check_stored_tokens(db, TokenCipher(NEW, OLD))


async def test_start_check_leaves_an_unreachable_database_to_readyz(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database that cannot be read is not a key problem: the check does not stop the start,
    and says it was skipped."""
    down = Database("postgresql://postgres@127.0.0.1:9/disparo", pool_size=1)
    try:
        with caplog.at_level(logging.WARNING, logger="disparo"):
            assert await check_stored_tokens(down, TokenCipher(OLD)) is None
    finally:
        await down.dispose()
    (skipped,) = [r for r in caplog.records if "could not check the stored bot tokens" in r.message]
    assert skipped.levelno == logging.WARNING
    assert "OperationalError" in skipped.message
