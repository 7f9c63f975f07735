"""`rollout-bot doctor` on the database and on ROLLOUT_MCP_URL: it reads the schema's migration revision without
writing, says when to run `rollout-bot migrate`, and names the setting to fix when the database or Rollout is wrong."""

from __future__ import annotations

import io
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bench.fakes import FakeSlackApi
from bot.config import DEFAULT_BOT_SCOPES, Settings, load_settings
from bot.doctor import DoctorOptions, run_doctor
from bot.rollout.tools import Capability
from bot.sandbox import RunningSandbox, SandboxCrm, start_sandbox
from bot.store import Store
from bot.store.alembic_runner import head_revision

CLIENT_ID = "doctor-db-test-client"
CLIENT_SECRET = "doctor-db-test-client-secret-" + "0123456789abcdef" * 4
BOT_TOKEN = "xoxb-doctor-db-test-bot-token"


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with start_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, crm=SandboxCrm(accounts_per_new_subject=1)
    ) as running:
        yield running


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi(bot_token=BOT_TOKEN, scopes=DEFAULT_BOT_SCOPES.split(",")) as fake:
        yield fake


def _settings(sandbox: RunningSandbox, slack: FakeSlackApi, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": "doctor-db-signing-secret",
        "slack_app_token": None,
        "slack_api_url": slack.base_url,
        "rollout_mcp_url": sandbox.url,
        "rollout_client_id": CLIENT_ID,
        "rollout_client_secret": CLIENT_SECRET,
        "encryption_key": Fernet.generate_key().decode(),
        "anthropic_api_key": None,
        **{f"rollout_tool_{c.value}": None for c in Capability},
        **overrides,
    }
    return load_settings(**values)


async def _doctor(settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_doctor(settings, DoctorOptions(), out=out)
    return code, out.getvalue()


def _section(output: str, title: str) -> list[str]:
    """The check lines under a section's title."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    body: list[str] = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        body.append(line.strip())
    return body


async def _migrated(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = await Store.open(url, [Fernet.generate_key().decode()])
    await store.migrate()
    await store.close()
    return url


async def test_a_database_at_the_code_head_is_ok(sandbox: RunningSandbox, slack: FakeSlackApi, tmp_path: Path) -> None:
    url = await _migrated(tmp_path / "bot.db")
    code, output = await _doctor(_settings(sandbox, slack, database_url=url))
    assert _section(output, "Database") == [f"✓ sqlite file {tmp_path / 'bot.db'}: migrations at {head_revision()}"]
    assert code == 0, output


async def test_a_database_behind_says_to_migrate(sandbox: RunningSandbox, slack: FakeSlackApi, tmp_path: Path) -> None:
    url = await _migrated(tmp_path / "bot.db")
    with sqlite3.connect(tmp_path / "bot.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0005'")  # as after deploying newer code
    before = (tmp_path / "bot.db").read_bytes()
    code, output = await _doctor(_settings(sandbox, slack, database_url=url))
    assert _section(output, "Database") == [
        f"! sqlite file {tmp_path / 'bot.db'}: migrations at 0005, the code's are at {head_revision()}: "
        "run rollout-bot migrate"
    ]
    assert code == 0, output
    assert (tmp_path / "bot.db").read_bytes() == before  # read only


async def test_no_database_file_yet_is_not_created(
    sandbox: RunningSandbox, slack: FakeSlackApi, tmp_path: Path
) -> None:
    code, output = await _doctor(_settings(sandbox, slack, database_url=f"sqlite:///{tmp_path / 'none.db'}"))
    assert _section(output, "Database") == [
        f"! sqlite file {tmp_path / 'none.db'}: no database yet: run rollout-bot migrate (serve also does at start)"
    ]
    assert not (tmp_path / "none.db").exists()
    assert code == 0, output


async def test_an_unreachable_postgresql_fails(sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = _settings(sandbox, slack, database_url=f"postgresql://bot:hunter2@127.0.0.1:{port}/crm")
    code, output = await _doctor(settings)
    assert _section(output, "Database") == [
        f"✗ could not reach the database (postgresql at 127.0.0.1:{port}/crm: connection refused): "
        "check DATABASE_URL and that the database is running."
    ]
    assert code == 1 and "hunter2" not in output


async def test_an_unsupported_scheme_fails(sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    code, output = await _doctor(_settings(sandbox, slack, database_url="mysql://bot:hunter2@db.example/crm"))
    assert _section(output, "Database")[0].startswith("✗ DATABASE_URL uses mysql, which is not supported")
    assert code == 2 and "hunter2" not in output


async def test_a_rollout_url_that_is_not_a_url(sandbox: RunningSandbox, slack: FakeSlackApi, tmp_path: Path) -> None:
    url = await _migrated(tmp_path / "bot.db")
    settings = _settings(sandbox, slack, database_url=url, rollout_mcp_url="universal.rollout.com/mcp")
    code, output = await _doctor(settings)
    assert (
        "✗ ROLLOUT_MCP_URL is not a URL: set it to the MCP endpoint, such as https://universal.rollout.com/mcp"
        in _section(output, "Rollout")
    )
    assert code == 1


async def test_a_404_names_the_setting_and_the_mcp_path(
    sandbox: RunningSandbox, slack: FakeSlackApi, tmp_path: Path
) -> None:
    url = await _migrated(tmp_path / "bot.db")
    wrong = sandbox.url.removesuffix("/mcp") + "/api"
    code, output = await _doctor(_settings(sandbox, slack, database_url=url, rollout_mcp_url=wrong))
    assert (
        "✗ connecting: Rollout answered HTTP 404 at this address: ROLLOUT_MCP_URL should be the MCP endpoint, "
        "ending in /mcp" in _section(output, "Rollout")
    ), output
    assert code == 1


async def test_postgresql_at_head_is_read_in_a_read_only_transaction(
    sandbox: RunningSandbox, slack: FakeSlackApi, postgres_url: str
) -> None:
    store = await Store.open(postgres_url, [Fernet.generate_key().decode()])
    await store.migrate()
    await store.close()
    code, output = await _doctor(_settings(sandbox, slack, database_url=postgres_url))
    [line] = _section(output, "Database")
    assert line.startswith("✓ postgresql at ") and line.endswith(f": migrations at {head_revision()}")
    assert code == 0, output
