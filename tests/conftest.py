"""Fixtures shared across the suite.

`app_harness` (SQLite), `postgres_app_harness` and `agent_harness` (with the agent and the fake model): the whole app
on loopback (tests/harness.py), one running app per kind for the session, handed to each test by `for_one_test`.
`sandbox`: the sandbox Rollout server for the session (tests/sandboxes.py); `fresh_sandbox`, `sandbox_of_each_era`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bench.fakes.anthropic_api import FakeAnthropic
from bench.fakes.postgres import postgres_unavailable_reason, temporary_postgres_url
from bot.sandbox import RunningSandbox
from bot.store import Store
from tests.harness import AppHarness, for_one_test, start_app_harness
from tests.sandboxes import ERAS, running_sandbox
from tests.scenarios import llm_settings


@pytest.fixture(scope="session")
async def shared_app_harness(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AppHarness]:
    """One running app for the session (SQLite); tests keep apart by using their own users."""
    database = tmp_path_factory.mktemp("app") / "app.db"
    async with start_app_harness(database_url=f"sqlite+aiosqlite:///{database}") as harness:
        yield harness


@pytest.fixture
async def app_harness(shared_app_harness: AppHarness) -> AsyncIterator[AppHarness]:
    """The shared app with an empty call record; the test's background work is finished and faults reset after it."""
    async with for_one_test(shared_app_harness) as harness:
        yield harness


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    reason = await postgres_unavailable_reason()
    if reason is not None:
        if os.environ.get("REQUIRE_POSTGRES"):  # CI must run these, not skip them
            pytest.fail(reason)
        pytest.skip(reason)
    async with temporary_postgres_url() as url:
        yield url


@pytest.fixture(scope="session")
async def shared_postgres_app_harness(postgres_url: str) -> AsyncIterator[AppHarness]:
    async with start_app_harness(database_url=postgres_url) as harness:
        yield harness


@pytest.fixture
async def postgres_app_harness(shared_postgres_app_harness: AppHarness) -> AsyncIterator[AppHarness]:
    """Like app_harness, on PostgreSQL: for the exactly-once guarantees that must hold across processes."""
    async with for_one_test(shared_postgres_app_harness) as harness:
        yield harness


@pytest.fixture(scope="session")
async def shared_agent_harness(
    tmp_path_factory: pytest.TempPathFactory, model_server: FakeAnthropic
) -> AsyncIterator[AppHarness]:
    database = tmp_path_factory.mktemp("agent-app") / "app.db"
    async with start_app_harness(
        database_url=f"sqlite+aiosqlite:///{database}", **llm_settings(model_server)
    ) as harness:
        yield harness


@pytest.fixture
async def agent_harness(shared_agent_harness: AppHarness, model: FakeAnthropic) -> AsyncIterator[AppHarness]:
    """Like app_harness, with the agent: the app talks to the fake model (`model`, scripted per test)."""
    async with for_one_test(shared_agent_harness) as harness:
        yield harness


@pytest.fixture(scope="session")
async def model_server() -> AsyncIterator[FakeAnthropic]:
    """One fake Anthropic API for the session; `model` resets its script and records for each test."""
    async with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def model(model_server: FakeAnthropic) -> FakeAnthropic:
    model_server.reset()
    return model_server


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    """One sandbox Rollout server for the session; tests keep apart by using their own users (subjects)."""
    async with running_sandbox() as running:
        yield running


@pytest.fixture
async def fresh_sandbox() -> AsyncIterator[RunningSandbox]:
    """A sandbox of this test alone: for tests that inject faults or count requests."""
    async with running_sandbox() as running:
        yield running


@pytest.fixture(params=ERAS)
async def sandbox_of_each_era(request: pytest.FixtureRequest) -> AsyncIterator[RunningSandbox]:
    """A sandbox of this test alone, of each protocol era in turn: the test runs once per era (`.protocol` says which
    one)."""
    async with running_sandbox(protocol=request.param) as running:
        yield running


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated store on a SQLite file of this test alone (tests/store/ overrides it: there, every backend)."""
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", [Fernet.generate_key().decode()])
    await opened.migrate()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def oauth_harness(tmp_path: Path) -> AsyncIterator[AppHarness]:
    """The app installed by OAuth ("Add to Slack"): bot tokens come from its installation store, none is configured."""
    async with start_app_harness(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'oauth.db'}",
        slack_bot_token=None,
        slack_client_id="1111.2222",
        slack_client_secret="oauth-client-secret-for-tests",
    ) as harness:
        yield harness
