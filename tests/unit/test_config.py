"""Settings: defaults, validation errors that name the variable, the admin token rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from disparo.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts from an environment without DISPARO_* variables, in an empty folder."""
    import os

    for name in list(os.environ):
        if name.startswith("DISPARO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    """With nothing set, Disparo runs on a SQLite file and the real Bot API."""
    settings = load_settings()
    assert settings.database_url == "sqlite:///disparo.sqlite3"
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.worker_max_bots == 50
    assert settings.log_format == "text"


def test_bad_values_name_the_variable_and_what_it_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every invalid variable is listed with what it accepts."""
    monkeypatch.setenv("DISPARO_WORKER_MAX_BOTS", "many")
    monkeypatch.setenv("DISPARO_LOG_FORMAT", "xml")
    monkeypatch.setenv("DISPARO_TELEGRAM_API_URL", "ftp://example.org")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "DISPARO_WORKER_MAX_BOTS" in message
    assert "an integer, 1–1000" in message
    assert "DISPARO_LOG_FORMAT" in message
    assert "text or json" in message
    assert "DISPARO_TELEGRAM_API_URL" in message
    assert "http://" in message


def test_env_file_is_read(tmp_path: Path) -> None:
    """A .env file in the working directory supplies settings."""
    (tmp_path / ".env").write_text("DISPARO_WORKER_MAX_BOTS=7\n")
    assert load_settings().worker_max_bots == 7


def test_admin_token_missing_is_refused() -> None:
    """The API cannot start without DISPARO_ADMIN_TOKEN, and the message says how to make one."""
    with pytest.raises(ConfigError, match="DISPARO_ADMIN_TOKEN is not set"):
        load_settings().require_admin_token()


@pytest.mark.parametrize("token", ["changeme", "CHANGEME", "secret", "aaaaaaaaaaaaaaaaaaaa"])
def test_admin_token_placeholder_is_refused(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    """Obvious placeholders are refused."""
    monkeypatch.setenv("DISPARO_ADMIN_TOKEN", token)
    with pytest.raises(ConfigError, match="placeholder"):
        load_settings().require_admin_token()


def test_admin_token_too_short_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short token is refused with its length and the minimum."""
    monkeypatch.setenv("DISPARO_ADMIN_TOKEN", "Xy7-q2Lm")
    with pytest.raises(ConfigError, match=r"too short \(8 characters\)"):
        load_settings().require_admin_token()


def test_admin_token_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sound token is accepted and never shown by repr or str of the settings."""
    token = "k3J9-vQ2_xLp8RtZ0wNd"
    monkeypatch.setenv("DISPARO_ADMIN_TOKEN", token)
    settings = load_settings()
    assert settings.require_admin_token().get_secret_value() == token
    assert token not in repr(settings)
    assert token not in str(settings)


@pytest.mark.parametrize(
    ("public_url", "says"),
    [
        ("http://disparo.example.com", "only to https URLs (this one is http)"),
        ("https://disparo.example.com:8080", "ports 443, 80, 88 and 8443 (this one is 8080)"),
        ("https://disparo.example.com:444/base", "(this one is 444)"),
    ],
)
@pytest.mark.parametrize("api_url", [None, "https://api.telegram.org/", "http://API.Telegram.org"])
def test_public_url_telegram_would_refuse_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, api_url: str | None, public_url: str, says: str
) -> None:
    """With Telegram's own Bot API, a webhook URL Telegram refuses is a ConfigError at start."""
    if api_url is not None:
        monkeypatch.setenv("DISPARO_TELEGRAM_API_URL", api_url)
    monkeypatch.setenv("DISPARO_PUBLIC_URL", public_url)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "DISPARO_PUBLIC_URL: Telegram sends webhooks" in message
    assert says in message
    assert "or leave DISPARO_PUBLIC_URL unset and use polling" in message


@pytest.mark.parametrize(
    "public_url",
    [
        "https://disparo.example.com",
        "https://disparo.example.com:443/base",
        "https://disparo.example.com:80",
        "https://disparo.example.com:88",
        "https://disparo.example.com:8443",
    ],
)
def test_public_url_telegram_accepts_is_kept(
    monkeypatch: pytest.MonkeyPatch, public_url: str
) -> None:
    """HTTPS on port 443, 80, 88 or 8443 is accepted with Telegram's Bot API."""
    monkeypatch.setenv("DISPARO_PUBLIC_URL", public_url)
    assert load_settings().public_url == public_url


def test_public_url_is_free_with_another_bot_api_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local Bot API server or the simulator may call any webhook URL."""
    monkeypatch.setenv("DISPARO_TELEGRAM_API_URL", "http://127.0.0.1:8081")
    monkeypatch.setenv("DISPARO_PUBLIC_URL", "http://127.0.0.1:8080")
    assert load_settings().public_url == "http://127.0.0.1:8080"
