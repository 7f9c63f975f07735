"""The agent against the real sandbox MCP server and the fake Anthropic API, wired by the app's own build_services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bench.fakes.anthropic_api import FakeAnthropic
from bot.app import build_services
from bot.sandbox import RunningSandbox
from bot.services import Services
from tests.harness import AppHarness, start_app_harness
from tests.scenarios import AgentRig, MakeRig, agent_settings, llm_settings


@pytest.fixture
async def make_rig(tmp_path: Path, sandbox: RunningSandbox, model: FakeAnthropic) -> AsyncIterator[MakeRig]:
    opened: list[Services] = []

    async def make(**overrides: Any) -> AgentRig:
        settings = agent_settings(tmp_path, sandbox, model, **overrides)
        services = await build_services(settings)
        opened.append(services)
        return AgentRig(settings, services, sandbox, model, opened)

    yield make
    for services in opened:
        await services.close()


@pytest.fixture
async def rig(make_rig: MakeRig) -> AgentRig:
    return await make_rig()


# ---- the whole app with the agent, driven through Slack ------------------------------------------------------


@pytest.fixture(scope="session")
async def shared_agent_harness(
    tmp_path_factory: pytest.TempPathFactory, model_server: FakeAnthropic
) -> AsyncIterator[AppHarness]:
    database = tmp_path_factory.mktemp("agent-app") / "app.db"
    settings = llm_settings(model_server)
    async with start_app_harness(database_url=f"sqlite+aiosqlite:///{database}", **settings) as harness:
        yield harness


@pytest.fixture
async def harness(shared_agent_harness: AppHarness, model: FakeAnthropic) -> AsyncIterator[AppHarness]:
    """The app with the agent (fake model), its call record empty; its background work finished after the test."""
    shared_agent_harness.slack.clear()
    yield shared_agent_harness
    await shared_agent_harness.settle()
    shared_agent_harness.slack.clear()
