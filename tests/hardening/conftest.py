"""Apps configured for the hardening tests: a short Rollout timeout, a wrong client secret, Rollout down, an LLM.

Each runs the whole app on loopback through tests/harness.py; the tests keep apart by using their own users, and
`for_one_test` resets the faults a test injected.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bench.fakes.anthropic_api import FakeAnthropic
from tests.harness import AppHarness, for_one_test, start_app_harness
from tests.scenarios import llm_settings

ROLLOUT_TIMEOUT_SECONDS = 1.0  # short, so "slower than the timeout" takes a second, not ten


@asynccontextmanager
async def _app(tmp_path_factory: pytest.TempPathFactory, name: str, **settings: Any) -> AsyncIterator[AppHarness]:
    database = tmp_path_factory.mktemp(name) / "app.db"
    async with start_app_harness(database_url=f"sqlite+aiosqlite:///{database}", **settings) as harness:
        yield harness


@pytest.fixture(scope="session")
async def _quick_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AppHarness]:
    async with _app(tmp_path_factory, "quick", rollout_timeout_seconds=ROLLOUT_TIMEOUT_SECONDS) as harness:
        yield harness


@pytest.fixture
async def quick_app(_quick_app: AppHarness) -> AsyncIterator[AppHarness]:
    """The app with a one-second Rollout timeout."""
    async with for_one_test(_quick_app) as harness:
        yield harness


@pytest.fixture(scope="session")
async def _wrong_secret_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AppHarness]:
    # The sandbox keeps the real secret: every token this app signs is refused, as after a botched secret rotation.
    wrong = "a-rollout-client-secret-nobody-issued-" + "0123456789abcdef" * 4
    async with _app(tmp_path_factory, "wrong-secret", rollout_client_secret=wrong) as harness:
        yield harness


@pytest.fixture
async def wrong_secret_app(_wrong_secret_app: AppHarness) -> AsyncIterator[AppHarness]:
    async with for_one_test(_wrong_secret_app) as harness:
        yield harness


@pytest.fixture(scope="session")
async def _rollout_down_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AppHarness]:
    # A port that was free a moment ago and has no listener: connections are refused, as when Rollout is down.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with _app(tmp_path_factory, "down", rollout_mcp_url=f"http://127.0.0.1:{port}/mcp") as harness:
        yield harness


@pytest.fixture
async def rollout_down_app(_rollout_down_app: AppHarness) -> AsyncIterator[AppHarness]:
    async with for_one_test(_rollout_down_app) as harness:
        yield harness


@pytest.fixture(scope="session")
async def _agent_app(
    tmp_path_factory: pytest.TempPathFactory, model_server: FakeAnthropic
) -> AsyncIterator[AppHarness]:
    llm = {**llm_settings(model_server), "agent_timeout_seconds": 3.0}  # the bound on one turn, and the SDK's timeout
    async with _app(tmp_path_factory, "agent", **llm) as harness:
        yield harness


@pytest.fixture
async def agent_app(_agent_app: AppHarness, model: FakeAnthropic) -> AsyncIterator[AppHarness]:
    """The app with the LLM agent, talking to the fake Anthropic API (`model`, scripted per test)."""
    async with for_one_test(_agent_app) as harness:
        yield harness
