"""Slash commands and the agent, through Slack, against Rollout-like servers with a contract the sandbox doesn't have.

A destructive tool named like a read and listed first never runs without a click, and never as the overview; a link
someone typed or planted never becomes the Connect button; "no CRM connected" in a normal answer reaches the user's DM.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import mcp_types as types

from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall
from bot.blocks.messages import USER_MESSAGES
from bot.ids import Action
from bot.rollout.outcomes import Failure, FailureReason
from tests.contracts import ADA, ContractServer, ContractTool, result, serve_contract, standard_tools
from tests.harness import AppHarness, start_app_harness


@asynccontextmanager
async def app_on(
    tools: list[ContractTool], tmp_path: Path, model: FakeAnthropic | None = None
) -> AsyncIterator[tuple[ContractServer, AppHarness]]:
    llm = (
        {"anthropic_api_key": model.api_key, "anthropic_base_url": model.base_url, "anthropic_model": "claude-test"}
        if model is not None
        else {}
    )
    async with serve_contract(tools) as server:
        database = f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}"
        async with start_app_harness(database_url=database, rollout_mcp_url=server.url, **llm) as harness:
            yield server, harness


def forget_person() -> ContractTool:
    return ContractTool("forget_person", lambda _: result({"forgotten": True}), ("personId", "query", "email"))


async def test_overview_shows_the_card_and_never_runs_a_destructive_tool_listed_first(tmp_path: Path) -> None:
    async with app_on([forget_person(), *standard_tools()], tmp_path) as (server, harness):
        user = harness.new_user()
        await harness.command(user, "overview Ada Lovelace")
        await harness.settle()
        card = await harness.slack.wait_for("response_url", lambda call: Action.PERSON_ADD_NOTE in call.action_ids)
        assert card.contains("Ada Lovelace")
        assert server.called("forget_person") == []


async def test_a_typed_credentials_link_echoed_back_never_becomes_a_connect_button(tmp_path: Path) -> None:
    def echo(args: dict[str, object]) -> types.CallToolResult:
        return result(f"No person matches {args.get('query')}", error=True)

    async with app_on(standard_tools(get_person_overview=echo), tmp_path) as (_, harness):
        user = harness.new_user()
        await harness.command(user, "overview https://evil.example/mcp/credentials/x")
        await harness.settle()
        assert harness.slack.calls_to("conversations.open") == []  # no DM, so no Connect button
        assert not any("evil.example" in str(call.args) for call in harness.slack.calls if call.action_ids)


async def test_no_crm_connected_in_a_normal_answer_sends_our_own_link_by_dm(tmp_path: Path) -> None:
    async with serve_contract([]) as server:
        origin = server.url.rsplit("/mcp", 1)[0]
        server.tools.extend(
            standard_tools(get_person_overview=lambda _: result({"next": f"{origin}/mcp/credentials/their-token"}))
        )
        database = f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}"
        async with start_app_harness(database_url=database, rollout_mcp_url=server.url) as harness:
            user = harness.new_user()
            await harness.command(user, "overview Ada Lovelace")
            await harness.settle()
            dm = await harness.slack.wait_for("chat.postMessage", lambda call: Action.CONNECT_OPEN in call.action_ids)
            url = dm.button(Action.CONNECT_OPEN)["url"]
            assert url.startswith(f"{origin}/mcp/credentials/ey") and "their-token" not in url


async def test_the_agent_asks_before_running_a_tool_it_does_not_know(tmp_path: Path, model: FakeAnthropic) -> None:
    tools = [forget_person(), *standard_tools()]
    async with app_on(tools, tmp_path, model) as (server, harness):
        user = harness.new_user()
        model.script(
            Reply(tool_calls=(ToolCall("forget_person", {"personId": ADA["id"]}),)),
            Reply(text="Waiting for your approval."),
        )
        await harness.command(user, "please forget Ada")
        await harness.settle()
        card = await harness.slack.wait_for("response_url", lambda call: Action.APPROVAL_APPROVE in call.action_ids)
        assert card.contains("forget_person")
        assert server.called("forget_person") == []  # nothing ran without the click


async def test_slash_note_never_runs_a_create_note_annotated_destructive(tmp_path: Path) -> None:
    tools = standard_tools()
    note = next(t for t in tools if t.name == "create_note")
    note.annotations = types.ToolAnnotations(destructive_hint=True)  # readOnlyHint left unsaid
    async with app_on(tools, tmp_path) as (server, harness):
        user = harness.new_user()
        await harness.command(user, f"note {ADA['email']} Called about the renewal")
        await harness.settle()
        assert harness.slack.calls_to("response_url") or harness.slack.calls_to("chat.postEphemeral")  # answered
        assert server.called("create_note") == []  # no click asked, so nothing may have run


async def test_a_note_the_agent_proposes_after_an_overview_from_another_account_is_written_there(
    tmp_path: Path, model: FakeAnthropic
) -> None:
    accounts = [
        {"id": "cred-a", "appKey": "hubspot", "label": "A"},
        {"id": "cred-b", "appKey": "salesforce", "label": "B"},
    ]
    found_in_b = {"person": ADA, "notes": [], "tasks": [], "credential": accounts[1]}
    tools = standard_tools(
        list_credentials=lambda _: result({"credentials": accounts}),
        get_person_overview=lambda _: result(found_in_b),
    )
    async with app_on(tools, tmp_path, model) as (server, harness):
        user = harness.new_user()
        assert not isinstance(await harness.services.crm.set_default_credential(user, "cred-a"), Failure)
        model.script(
            Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)),
            Reply(tool_calls=(ToolCall("create_note", {"personId": ADA["id"], "content": "Met at the expo"}),)),
            Reply(text="Added."),
        )
        await harness.command(user, "please add to Ada that we met at the expo")
        card = await harness.slack.wait_for("response_url", lambda call: Action.APPROVAL_APPROVE in call.action_ids)
        assert server.called("get_person_overview")[0]["credentialId"] == "cred-a"  # the read used the default

        await harness.click(user, card, Action.APPROVAL_APPROVE)
        await harness.settle()

        assert server.called("create_note") == [
            {"credentialId": "cred-b", "personId": ADA["id"], "content": "Met at the expo"}
        ]


async def test_a_slash_note_whose_session_drops_after_the_crm_wrote_it_is_reported_unconfirmed_once(
    tmp_path: Path,
) -> None:
    harness: AppHarness | None = None
    user = None

    async def write_then_lose_the_answer(arguments: dict[str, object]) -> types.CallToolResult:
        assert harness is not None and user is not None
        async with harness.services.pool.session(user) as session:  # the connection carrying the answer dies
            pass
        await harness.services.pool.discard(session)
        return result({"note": {"id": "n-1", "content": arguments.get("content")}})

    async with app_on(standard_tools(create_note=write_then_lose_the_answer), tmp_path) as (server, running):
        harness, user = running, running.new_user()
        mark = harness.slack.mark()

        await harness.command(user, f"note {ADA['email']} Called about the renewal")
        await harness.settle()

        assert len(server.called("create_note")) == 1  # sent once, not again on a new session
        told = [c for c in harness.slack.calls[mark:] if c.method == "response_url"]
        assert [c.text for c in told] == [USER_MESSAGES[FailureReason.WRITE_UNCONFIRMED]]
