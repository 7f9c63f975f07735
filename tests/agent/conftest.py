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
from tests.scenarios import AgentRig, MakeRig, agent_settings


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
