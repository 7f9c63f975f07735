"""The agent against the real sandbox MCP server and the fake Anthropic API, wired by the app's own build_services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bench.fakes.anthropic_api import FakeAnthropic
from bot.agent import Agent
from bot.app import build_services
from bot.config import Settings, load_settings
from bot.identity import SlackUser
from bot.sandbox import RunningSandbox
from bot.services import Services
from bot.store import ConversationKey
from tests.harness import AppHarness, start_app_harness
from tests.sandboxes import CLIENT_ID, CLIENT_SECRET, running_sandbox

TEAM = "TAGENT"


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with running_sandbox() as running:
        yield running


@dataclass
class AgentRig:
    settings: Settings
    services: Services
    sandbox: RunningSandbox
    model: FakeAnthropic
    opened: list[Services]

    @property
    def agent(self) -> Agent:
        assert self.services.agent is not None
        return self.services.agent

    def user(self) -> SlackUser:
        """A user no other test has seen: the sandbox seeds a fresh CRM account for them."""
        return SlackUser(TEAM, f"U{uuid.uuid4().hex[:10].upper()}")

    def thread(self, channel: str = "C0AGENT") -> ConversationKey:
        return ConversationKey(TEAM, channel, f"1700000000.{uuid.uuid4().int % 10**6:06d}")

    async def restart(self) -> Services:
        """A new process on the same database: close these services and build fresh ones."""
        await self.services.close()
        self.opened.remove(self.services)
        self.services = await build_services(self.settings)
        self.opened.append(self.services)
        return self.services

    def crm_account(self, user: SlackUser) -> str:
        return self.sandbox.crm.accounts(user.default_subject)[0].id

    def person_id(self, user: SlackUser, name: str) -> str:
        account = self.crm_account(user)
        return self.sandbox.crm.find_people(user.default_subject, account, query=name)[0].id

    def tasks(self, user: SlackUser, name: str) -> list[Any]:
        account = self.crm_account(user)
        return self.sandbox.crm.tasks_of(user.default_subject, account, self.person_id(user, name))

    def notes(self, user: SlackUser, name: str) -> list[Any]:
        account = self.crm_account(user)
        return self.sandbox.crm.notes_of(user.default_subject, account, self.person_id(user, name))


def agent_settings(tmp_path: Path, sandbox: RunningSandbox, model: FakeAnthropic, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "rollout_mcp_url": sandbox.url,
        "rollout_client_id": CLIENT_ID,
        "rollout_client_secret": CLIENT_SECRET,
        "encryption_key": Fernet.generate_key().decode(),
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'agent.db'}",
        "anthropic_api_key": model.api_key,
        "anthropic_base_url": model.base_url,
        "anthropic_model": "claude-test",
        "slack_bot_token": None,
        "slack_signing_secret": None,
        "slack_app_token": None,
    }
    values.update(overrides)
    return load_settings(**values)


MakeRig = Callable[..., Awaitable[AgentRig]]


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


def llm_settings(model: FakeAnthropic) -> dict[str, Any]:
    return {
        "anthropic_api_key": model.api_key,
        "anthropic_base_url": model.base_url,
        "anthropic_model": "claude-test",
    }


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
