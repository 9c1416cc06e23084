"""Settings, read once from the environment (and an optional `.env`) and validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from disparo.errors import DisparoError

PLACEHOLDER_TOKENS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "token",
        "admin",
        "password",
        "test",
        "example",
        "xxx",
        "todo",
        "your-token",
        "your_token",
        "admin-token",
    }
)
MIN_ADMIN_TOKEN_LENGTH = 16
TELEGRAM_API_HOST = "api.telegram.org"
WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram's Bot API sends webhooks to


class ConfigError(DisparoError, ValueError):
    """A setting is missing or invalid; the message names the variable and what it accepts."""


class Settings(BaseSettings):
    """Every setting of Disparo. Each field is read from `DISPARO_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="DISPARO_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite:///disparo.sqlite3",
        description="sqlite:///path.sqlite3 or postgresql://user@host:5432/dbname",
    )
    admin_token: SecretStr | None = Field(
        default=None, description=f"a random string of at least {MIN_ADMIN_TOKEN_LENGTH} characters"
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org", description="an http(s) URL of the Bot API server"
    )
    telegram_timeout_s: float = Field(default=10.0, gt=0, le=120, description="seconds, 0–120")
    public_url: str | None = Field(
        default=None,
        description="an https URL on port 443, 80, 88 or 8443 where Telegram reaches this "
        "server's webhooks; any URL with another DISPARO_TELEGRAM_API_URL",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="a Fernet key (disparo keygen makes one) to encrypt bot tokens; several, "
        "comma-separated: the first seals, all open",
    )
    old_secret_key: SecretStr | None = Field(
        default=None,
        description="previous Fernet keys, comma-separated: they open bot tokens, never seal "
        "(a key rotation: disparo rotate-key)",
    )
    log_format: Literal["text", "json"] = Field(default="text", description="text or json")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    api_docs: bool = Field(
        default=False, description="true or false: serve Swagger UI at /docs (local files)"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=f"a random string of at least {MIN_ADMIN_TOKEN_LENGTH} characters; "
        "/metrics then answers only 'Authorization: Bearer <it>'",
    )
    http_keep_alive_s: int = Field(
        default=5, ge=1, le=300, description="seconds an idle connection is kept, 1–300"
    )
    http_read_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="seconds, above 0, at most 300: a request's headers must arrive within "
        "it, and its body may pause no longer",
    )
    http_max_connections: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="an integer, 1–100000: open connections (or requests in progress) past "
        "which a new request is answered 503",
    )
    worker_max_bots: int = Field(default=50, ge=1, le=1000, description="an integer, 1–1000")
    lease_s: float = Field(default=30.0, ge=5, le=600, description="seconds, 5–600")
    snapshot_first: int = Field(
        default=2000, ge=1, le=1_000_000, description="an integer, 1–1000000"
    )
    snapshot_chunk: int = Field(
        default=50_000, ge=100, le=1_000_000, description="an integer, 100–1000000"
    )
    poll_interval_s: float = Field(
        default=1.0, gt=0, le=1.0, description="seconds, above 0, at most 1"
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=60, description="seconds a webhook receiver has to answer, 0–60"
    )
    webhook_concurrency: int = Field(
        default=8, ge=1, le=100, description="webhook deliveries in flight per process, 1–100"
    )
    webhook_retry_base_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="seconds before a failed webhook delivery's first retry (doubled each "
        "time), above 0, at most 3600",
    )
    webhook_retry_max_s: float = Field(
        default=7200.0,
        gt=0,
        le=86400,
        description="seconds, the longest wait between two tries of a webhook delivery, "
        "above 0, at most 86400",
    )

    @field_validator("telegram_api_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("public_url")
    @classmethod
    def _webhook_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """With Telegram's own Bot API, only a URL Telegram would send webhooks to."""
        api_url = info.data.get("telegram_api_url")
        if value is None or api_url is None or urlsplit(api_url).hostname != TELEGRAM_API_HOST:
            return value  # a local Bot API server or the simulator calls any URL
        problem = webhook_url_problem(value)
        if problem is not None:
            raise PydanticCustomError(
                "telegram_webhook_url",
                f"Telegram sends webhooks {problem}; serve Disparo's public address with HTTPS on "
                "port 443, 80, 88 or 8443 (a reverse proxy in front of it) and set "
                "DISPARO_PUBLIC_URL to it, or leave DISPARO_PUBLIC_URL unset and use polling",
            )
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < MIN_ADMIN_TOKEN_LENGTH:  # never echo the value
            raise ValueError(f"must be at least {MIN_ADMIN_TOKEN_LENGTH} characters")
        return value

    def require_admin_token(self) -> SecretStr:
        """The admin token, refusing a missing, short or placeholder one."""
        token = self.admin_token
        if token is None or not token.get_secret_value().strip():
            raise ConfigError(
                "DISPARO_ADMIN_TOKEN is not set; the admin API needs it. Set it to a random "
                f"string of at least {MIN_ADMIN_TOKEN_LENGTH} characters, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        value = token.get_secret_value()
        if value.strip().lower() in PLACEHOLDER_TOKENS or len(set(value)) < 4:
            raise ConfigError(
                "DISPARO_ADMIN_TOKEN is a placeholder; set it to a random string of at least "
                f"{MIN_ADMIN_TOKEN_LENGTH} characters"
            )
        if len(value) < MIN_ADMIN_TOKEN_LENGTH:
            raise ConfigError(
                f"DISPARO_ADMIN_TOKEN is too short ({len(value)} characters); use at least "
                f"{MIN_ADMIN_TOKEN_LENGTH} random characters"
            )
        return token


def webhook_url_problem(url: str) -> str | None:
    """Why Telegram's Bot API would refuse `url` as a webhook, or None when it would accept it."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"only to https URLs (this one is {parts.scheme})"
    try:
        port = parts.port or 443
    except ValueError:
        return "only to ports 443, 80, 88 and 8443 (this one has no valid port)"
    if port not in WEBHOOK_PORTS:
        return f"only to ports 443, 80, 88 and 8443 (this one is {port})"
    return None


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read and validate the settings; raise ConfigError naming each bad variable."""
    try:
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "DISPARO_" + "_".join(str(part) for part in error["loc"][:1]).upper()
            field = Settings.model_fields.get(str(error["loc"][0])) if error["loc"] else None
            accepts = f" (accepts {field.description})" if field and field.description else ""
            problems.append(f"{name}: {error['msg']}{accepts}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from None
