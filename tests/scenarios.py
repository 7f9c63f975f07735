"""Scenario helpers shared by the agent and Slack tests: the agent wired to the sandbox and the fake model (`AgentRig`,
built by the `make_rig` / `rig` fixtures), and the Slack events and model scripts the tests send (`mention`, `propose`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bench.fakes import Call
from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall
from bot.agent import Agent
from bot.agent.results import TurnResult
from bot.app import build_services
from bot.config import Settings, load_settings
from bot.identity import SlackUser
from bot.ids import Action
from bot.sandbox import RunningSandbox
from bot.services import Services
from bot.store import ConversationKey
from tests.harness import CHANNEL_ID, AppHarness
from tests.sandboxes import CLIENT_ID, CLIENT_SECRET

ADA = "ada.lovelace@analytical-engines.example"  # a person every new sandbox user finds in their CRM
TEAM = "TAGENT"


# ---- the agent alone, as a service ----------------------------------------------------------------------------


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


# ---- the agent through Slack ----------------------------------------------------------------------------------


def llm_settings(model: FakeAnthropic) -> dict[str, Any]:
    """The settings that give an app the agent, talking to the fake model."""
    return {
        "anthropic_api_key": model.api_key,
        "anthropic_base_url": model.base_url,
        "anthropic_model": "claude-test",
    }


def mention(user: SlackUser, text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
    """An `app_mention` event from `user` in the harness channel, starting a thread or in `thread_ts`."""
    ts = f"1700001000.{uuid.uuid4().int % 10**6:06d}"
    event = {
        "type": "app_mention",
        "user": user.user_id,
        "text": f"<@U0BOT> {text}",
        "ts": ts,
        "channel": CHANNEL_ID,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def overview_then(text: str) -> tuple[Reply, Reply]:
    """The model looks Ada up, then answers `text`."""
    return Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)), Reply(text=text)


async def propose(harness: AppHarness, model: FakeAnthropic, user: SlackUser, title: str = "Call Ada") -> Call:
    """Through Slack, the model proposes a task for Ada; returns the approval card."""
    ada = harness.crm_person(user, ADA)
    task = {"personId": ada.id, "title": title, "dueDate": "2026-12-04"}
    model.script(
        Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)),
        Reply(text="Please approve.", tool_calls=(ToolCall("create_task", task),)),
    )
    await harness.event(mention(user, f"remind me to {title.lower()} on Friday"))
    # A card naming a person: shown to the requester alone, in the mention's thread.
    return await harness.slack.wait_for("chat.postEphemeral", lambda call: Action.APPROVAL_APPROVE in call.action_ids)


async def propose_task(rig: AgentRig, user: SlackUser, thread: ConversationKey, title: str = "Call Ada") -> TurnResult:
    """Without Slack, the model proposes a task for Ada; returns the turn waiting for approval."""
    ada = rig.person_id(user, "Ada Lovelace")
    rig.model.script(
        Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)),
        Reply(
            text="I'll create that task once you approve it.",
            tool_calls=(ToolCall("create_task", {"personId": ada, "title": title, "dueDate": "2026-12-04"}),),
        ),
    )
    return await rig.agent.answer(user, thread, f"Remind me to {title.lower()} on Friday")
