"""Settings fail at start with one line naming the variable and what to put there, never the secret itself."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.config import DEFAULT_DATABASE_URL, ConfigError, load_settings

LONG_SECRET = "s" * 64


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "ROLLOUT_CLIENT_ID",
        "ROLLOUT_CLIENT_SECRET",
        "ENCRYPTION_KEY",
        "DATABASE_URL",
        "ROLLOUT_TOKEN_TTL",
        "PORT",
        "ANTHROPIC_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


def test_without_environment_the_defaults_are_sqlite_public_rollout_and_no_agent() -> None:
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.rollout_mcp_url == "https://universal.rollout.com/mcp"
    assert settings.rollout_token_ttl.total_seconds() == 900
    assert settings.port == 3000
    assert not settings.llm_enabled


def test_missing_variable_names_itself_and_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings().require_serve()
    message = str(raised.value)
    assert message.startswith("SLACK_BOT_TOKEN is not set: set it to")
    assert "\n" not in message


def test_malformed_value_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port-hunter2")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith("PORT is malformed")
    assert "hunter2" not in str(raised.value)


def test_short_rollout_secret_is_refused_without_printing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", "client")
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", "short-secret-hunter2")
    with pytest.raises(ConfigError) as raised:
        load_settings().require_rollout()
    assert "ROLLOUT_CLIENT_SECRET is too short" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_encryption_keys_are_validated_and_split_for_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEY", f"{new}, {old}")
    settings = load_settings()
    settings.require_store()
    assert settings.encryption_keys == [new, old]
    monkeypatch.setenv("ENCRYPTION_KEY", "not-a-fernet-key")
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY is not a valid Fernet key"):
        load_settings().require_store()


def test_secrets_are_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", LONG_SECRET)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-hunter2")
    settings = load_settings()
    assert LONG_SECRET not in repr(settings)
    assert "hunter2" not in repr(settings)


def test_a_token_ttl_below_its_lower_bound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_TOKEN_TTL", "5")
    with pytest.raises(ConfigError, match="ROLLOUT_TOKEN_TTL is malformed"):
        load_settings()
