"""One settings object, read from the environment (and an optional .env) once at start, then passed down."""

from __future__ import annotations

import errno
from datetime import timedelta
from typing import Literal, get_args

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.rollout.tools import Capability

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./rollout-bot.db"
DEFAULT_MODEL = "claude-sonnet-5-5"
# The bot scopes an "Add to Slack" install asks for: manifest.yml's (tests/test_app_install.py keeps them equal).
DEFAULT_BOT_SCOPES = ",".join(
    (
        "app_mentions:read",
        "assistant:write",
        "channels:history",
        "channels:read",
        "chat:write",
        "chat:write.public",
        "commands",
        "groups:history",
        "im:history",
        "im:write",
        "users:read",
    )
)
MIN_SECRET_BYTES = 64  # HS512 wants a key at least as long as its output; PyJWT warns below this.

# What to put in each variable, for the one-line start-up error.
_HINTS: dict[str, str] = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-...) from your Slack app's OAuth & Permissions page",
    "SLACK_SIGNING_SECRET": "the Signing Secret from your Slack app's Basic Information page",
    "SLACK_CLIENT_ID": "the Client ID from your Slack app's Basic Information page (with SLACK_CLIENT_SECRET)",
    "SLACK_CLIENT_SECRET": "the Client Secret from your Slack app's Basic Information page (with SLACK_CLIENT_ID)",
    "SLACK_APP_TOKEN": "an app-level token (xapp-...) with connections:write, or unset it to serve over HTTP",
    "ROLLOUT_CLIENT_ID": "your Rollout Client ID",
    "ROLLOUT_CLIENT_SECRET": f"your Rollout Client Secret (at least {MIN_SECRET_BYTES} bytes)",
    "ENCRYPTION_KEY": "one or more comma-separated Fernet keys, newest first "
    '(make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")',
    "ANTHROPIC_API_KEY": "an Anthropic API key, or leave it unset to run without free-text answers",
    "DATABASE_URL": "a SQLAlchemy URL such as postgresql://user@host/db, or unset it for a local SQLite file",
    "ROLLOUT_TOKEN_TTL": "a number of seconds between 60 and 3600",
    "PORT": "a TCP port number",
}


class ConfigError(Exception):
    """A setting the running command needs is missing or malformed. The message is one line, with no secret in it."""


class Unreachable(Exception):
    """Something the command needs at start cannot be reached or taken (the database, a port). One line, no secret."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None  # base URL of the Slack Web API; tests point it at a fake
    # Installing in many workspaces ("Add to Slack"): with both set, bot tokens come from OAuth installs, not
    # SLACK_BOT_TOKEN.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_redirect_uri: str | None = None  # https://YOUR-HOST/slack/oauth_redirect, if more than one is registered
    slack_scopes: str = DEFAULT_BOT_SCOPES  # comma-separated, as in manifest.yml

    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    anthropic_model: str = DEFAULT_MODEL
    agent_max_steps: int = Field(default=8, ge=1, le=50)
    agent_max_tokens: int = Field(default=2048, ge=256, le=64000)
    agent_timeout_seconds: float = Field(default=90.0, gt=0)
    agent_history_tokens: int = Field(default=24000, ge=1000)
    approval_ttl_seconds: int = Field(default=3600, ge=60)
    # Weighted model tokens per UTC day (see bot/agent/budget.py); unset: unlimited.
    agent_daily_tokens_per_user: int | None = Field(default=None, ge=1)
    agent_daily_tokens_per_team: int | None = Field(default=None, ge=1)
    agent_system_prompt: str | None = None  # replaces the built-in prompt (bot/agent/prompt.py) when set

    rollout_mcp_url: str = "https://universal.rollout.com/mcp"
    rollout_client_id: str | None = None
    rollout_client_secret: SecretStr | None = None
    rollout_token_ttl: timedelta = Field(default=timedelta(minutes=15))
    rollout_timeout_seconds: float = Field(default=10.0, gt=0)
    rollout_pool_size: int = Field(default=256, ge=1)
    rollout_pool_idle_seconds: float = Field(default=300.0, gt=0)
    # Tool names as Rollout calls them; override one if Rollout renames a tool before we rename it here.
    rollout_tool_list_credentials: str | None = None
    rollout_tool_person_overview: str | None = None
    rollout_tool_create_person: str | None = None
    rollout_tool_create_note: str | None = None
    rollout_tool_create_task: str | None = None

    database_url: str = DEFAULT_DATABASE_URL
    encryption_key: SecretStr | None = None
    retention_days: int = Field(default=30, ge=1)  # conversations, approvals and activity older than this go
    port: int = Field(default=3000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Comma-separated logger names (a name covers its children) that may log below INFO when LOG_LEVEL is DEBUG;
    # every other library stays at INFO or above: at DEBUG libraries log CRM content and Slack response URLs.
    log_level_libraries: str = ""
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # unset: GET /metrics on PORT
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)  # how long SIGTERM waits for acked work
    # Acked work is renewed every third of this; past it, another process (or this one restarted) takes it over.
    work_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    # Person overviews the morning digests and task reminders may read per workspace and minute, across processes.
    digest_overviews_per_minute: int = Field(default=60, ge=1, le=10000)

    @field_validator("rollout_token_ttl")
    @classmethod
    def _sane_ttl(cls, ttl: timedelta) -> timedelta:
        if not timedelta(seconds=60) <= ttl <= timedelta(hours=1):
            raise ValueError("out of range")
        return ttl

    @field_validator("agent_daily_tokens_per_user", "agent_daily_tokens_per_team", mode="before")
    @classmethod
    def _blank_means_unlimited(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _blank_means_default(cls, url: str) -> str:
        return url.strip() or DEFAULT_DATABASE_URL

    # ---- what each command needs ------------------------------------------------------------------------------

    @property
    def rollout_tool_overrides(self) -> dict[Capability, str | None]:
        """The ROLLOUT_TOOL_* settings: which Rollout tool serves each capability, when the admin says so."""
        return {
            Capability.LIST_CREDENTIALS: self.rollout_tool_list_credentials,
            Capability.PERSON_OVERVIEW: self.rollout_tool_person_overview,
            Capability.CREATE_PERSON: self.rollout_tool_create_person,
            Capability.CREATE_NOTE: self.rollout_tool_create_note,
            Capability.CREATE_TASK: self.rollout_tool_create_task,
        }

    @property
    def encryption_keys(self) -> list[str]:
        if self.encryption_key is None:
            return []
        return [k.strip() for k in self.encryption_key.get_secret_value().split(",") if k.strip()]

    @property
    def log_libraries(self) -> tuple[str, ...]:
        """LOG_LEVEL_LIBRARIES as logger names."""
        return tuple(name.strip() for name in self.log_level_libraries.split(",") if name.strip())

    @property
    def llm_enabled(self) -> bool:
        return self.anthropic_api_key is not None and bool(self.anthropic_api_key.get_secret_value())

    def require_rollout(self) -> None:
        _require(self, "ROLLOUT_CLIENT_ID", "ROLLOUT_CLIENT_SECRET")
        assert self.rollout_client_secret is not None
        if len(self.rollout_client_secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise _config_error("ROLLOUT_CLIENT_SECRET", "is too short")

    def require_store(self) -> None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        from bot.store.database import normalise_database_url

        try:
            normalise_database_url(self.database_url)
        except ArgumentError:
            raise _config_error("DATABASE_URL", "is not a database URL") from None
        except ValueError:
            backend = make_url(self.database_url).get_backend_name()  # the scheme only: the URL may hold a password
            problem = "names no SQLite file" if backend == "sqlite" else f"uses {backend}, which is not supported"
            raise _config_error("DATABASE_URL", problem) from None
        _require(self, "ENCRYPTION_KEY")
        for key in self.encryption_keys:
            try:
                Fernet(key)
            except ValueError:
                raise _config_error("ENCRYPTION_KEY", "is not a valid Fernet key") from None

    @property
    def oauth_enabled(self) -> bool:
        return bool(self.slack_client_id) and bool(
            self.slack_client_secret and self.slack_client_secret.get_secret_value()
        )

    def require_slack(self) -> None:
        if self.slack_client_id or self.slack_client_secret:
            _require(self, "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET")
            return
        _require(self, "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
        assert self.slack_bot_token is not None
        # A user token (xoxp-) or an app token (xapp-) here would start, then fail at every request.
        if not self.slack_bot_token.get_secret_value().startswith("xoxb-"):
            raise _config_error("SLACK_BOT_TOKEN", "is not a bot token")

    def require_serve(self) -> None:
        self.require_slack()
        self.require_rollout()
        self.require_store()


def load_settings(**overrides: object) -> Settings:
    """Read settings once. Malformed values become one ConfigError line naming the variable (never its value)."""
    try:
        # Any field by name, as pydantic-settings reads them; the values are validated right here.
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        name = field.upper() or "settings"
        if first["type"] == "literal_error" and field in Settings.model_fields:
            allowed = ", ".join(str(value) for value in get_args(Settings.model_fields[field].annotation))
            raise ConfigError(f"{name} is malformed: set it to one of {allowed}.") from None
        raise _config_error(name, "is malformed") from None


def _require(settings: Settings, *names: str) -> None:
    for name in names:
        value = getattr(settings, name.lower())
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not value:
            raise _config_error(name, "is not set")


def _config_error(name: str, problem: str) -> ConfigError:
    hint = _HINTS.get(name, "a valid value")
    return ConfigError(f"{name} {problem}: set it to {hint}.")


def cannot_listen(port: int | None, error: OSError, fix: str) -> Unreachable:
    """One line for a port the command cannot listen on; `fix` says which setting or option to change."""
    if error.errno == errno.EADDRINUSE:
        return Unreachable(f"port {port} is already in use: stop what is listening there, or {fix}.")
    return Unreachable(f"cannot listen on port {port} ({error.strerror or type(error).__name__}): {fix}.")
