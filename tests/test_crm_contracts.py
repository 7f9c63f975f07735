"""CrmService against Rollout-like servers whose contract differs from the sandbox's in plausible ways.

The real Rollout documents no tool names, annotations or result shapes, so these are the safety rules where it could
differ: no destructive tool ever runs as a read, no link but our own becomes a button, "no CRM connected" is heard
however it is said, and an answer the bot can't read is never "no one matches".
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import mcp_types as types
import pytest
from cryptography.fernet import Fernet

from bot.crm import CrmService
from bot.identity import SlackUser
from bot.rollout.client import RolloutClient
from bot.rollout.outcomes import ConnectNeeded, Failure, FailureReason, NotFound, PersonOverview, Unrecognised
from bot.rollout.pool import SessionPool
from bot.rollout.tokens import TokenMinter, TokenService
from bot.rollout.tools import Capability, classify
from bot.store import Store
from tests.contracts import ADA, DESTRUCTIVE, READ, ContractServer, ContractTool, result, serve_contract, standard_tools

CLIENT_ID = "rollout-contract-client"
CLIENT_SECRET = "rollout-contract-test-secret-" + "0123456789abcdef" * 4
SAM = SlackUser("T1", "USAM")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'contracts.db'}", [Fernet.generate_key().decode()])
    await opened.migrate()
    yield opened
    await opened.close()


class Crm:
    """A CrmService wired to one contract server, as the composition root wires it to Rollout."""

    def __init__(self, server: ContractServer, store: Store) -> None:
        origin = server.url.rsplit("/mcp", 1)[0]
        tokens = TokenService(TokenMinter(CLIENT_ID, CLIENT_SECRET, timedelta(minutes=15)), store.users)
        self.pool = SessionPool(server.url, tokens, max_sessions=4, idle_seconds=300, connect_timeout=5)
        self.rollout = RolloutClient(self.pool, timeout=5, rollout_origin=origin)
        self.service = CrmService(self.rollout, store, tokens, server.url)
        self.origin = origin


async def crm_for(tools: list[ContractTool], store: Store) -> AsyncIterator[tuple[ContractServer, Crm]]:
    async with serve_contract(tools) as server:
        wired = Crm(server, store)
        try:
            yield server, wired
        finally:
            await wired.pool.close()


def tool(name: str, annotations: types.ToolAnnotations | None = None) -> types.Tool:
    return types.Tool(name=name, input_schema={"type": "object"}, annotations=annotations)


# ---- classification -------------------------------------------------------------------------------------------


def test_a_destructive_tool_named_like_a_read_is_a_write_and_never_the_overview() -> None:
    tools = [tool("forget_person"), tool("update_contact_budget"), tool("get_person_overview")]
    found = classify(tools, {})
    assert found.capabilities[Capability.PERSON_OVERVIEW] == "get_person_overview"
    assert {"forget_person", "update_contact_budget"} <= found.writes(tools)
    assert found.reads == {"get_person_overview"}


def test_annotations_win_over_names() -> None:
    tools = [tool("get_person_overview", DESTRUCTIVE), tool("delete_everything_report", READ)]
    found = classify(tools, {})
    assert Capability.PERSON_OVERVIEW not in found.capabilities  # a read capability never maps to a destructive tool
    assert found.reads == {"delete_everything_report"}
    assert found.writes(tools) == {"get_person_overview"}


def test_without_annotations_names_decide_by_whole_words() -> None:
    tools = [tool(n) for n in ("listCredentials", "get-person-overview", "createNote", "addTask", "archive_contact")]
    found = classify(tools, {})
    assert found.capabilities == {
        Capability.LIST_CREDENTIALS: "listCredentials",
        Capability.PERSON_OVERVIEW: "get-person-overview",
        Capability.CREATE_NOTE: "createNote",
        Capability.CREATE_TASK: "addTask",
    }
    assert found.writes(tools) == {"createNote", "addTask", "archive_contact"}  # unknown tools are writes too


def test_two_tools_for_one_capability_pick_neither_until_a_setting_does(caplog: pytest.LogCaptureFixture) -> None:
    tools = [tool("get_person_overview", READ), tool("get_contact_overview", READ)]
    found = classify(tools, {})
    assert Capability.PERSON_OVERVIEW not in found.capabilities
    assert found.ambiguous[Capability.PERSON_OVERVIEW] == ("get_person_overview", "get_contact_overview")
    settled = classify(tools, {Capability.PERSON_OVERVIEW: "get_contact_overview"})
    assert settled.capabilities[Capability.PERSON_OVERVIEW] == "get_contact_overview"
    client = RolloutClient(None, timeout=1)  # type: ignore[arg-type]  # classifying needs no connection
    with caplog.at_level(logging.WARNING, logger="bot.rollout.client"):
        client.tool_map(tools)
        client.tool_map(tools)
    warnings = [r.getMessage() for r in caplog.records if "several Rollout tools" in r.getMessage()]
    assert len(warnings) == 1 and "get_person_overview" in warnings[0] and "get_contact_overview" in warnings[0]
    assert "ROLLOUT_TOOL_PERSON_OVERVIEW" in warnings[0]


def test_a_setting_cannot_make_a_destructive_tool_the_overview() -> None:
    tools = [tool("forget_person", DESTRUCTIVE), tool("get_person_overview", READ)]
    assert Capability.PERSON_OVERVIEW not in classify(tools, {Capability.PERSON_OVERVIEW: "forget_person"}).capabilities


# ---- through CrmService, against a server ---------------------------------------------------------------------


async def test_overview_never_calls_a_destructive_tool_listed_first(store: Store) -> None:
    forget = ContractTool("forget_person", lambda _: result({"forgotten": True}), ("personId", "query"))
    async for server, crm in crm_for([forget, *standard_tools()], store):
        found = await crm.service.overview(SAM, "Ada Lovelace")
        assert isinstance(found, PersonOverview) and found.person.name == "Ada Lovelace"
        assert server.called("forget_person") == []
        tools = await crm.service.tools(SAM)
        assert not isinstance(tools, Failure)
        assert "forget_person" in crm.service.write_tools(tools)


async def test_a_rollout_link_in_a_normal_result_means_no_crm_connected(store: Store) -> None:
    async with serve_contract([]) as server:
        link = f"{server.url.rsplit('/mcp', 1)[0]}/mcp/credentials/their-token"
        server.tools.extend(
            standard_tools(
                get_person_overview=lambda _: result(f"Connect a CRM first: {link}"),
                list_credentials=lambda _: result({"data": {"next": {"manage": link}}}),
            )
        )
        crm = Crm(server, store)
        try:
            for outcome in (await crm.service.overview(SAM, "Ada"), await crm.service.credentials(SAM)):
                assert isinstance(outcome, ConnectNeeded)
                assert outcome.link.startswith(f"{crm.origin}/mcp/credentials/ey")  # our own freshly minted token
                assert "their-token" not in outcome.link
        finally:
            await crm.pool.close()


async def test_an_explicit_code_in_any_field_means_no_crm_connected(store: Store) -> None:
    answer = result({"status": "ok", "result": {"reason": "NO_CREDENTIALS"}})
    async for _, crm in crm_for(standard_tools(get_person_overview=lambda _: answer), store):
        assert isinstance(await crm.service.overview(SAM, "Ada"), ConnectNeeded)


async def test_no_crm_connected_said_only_in_the_structured_content(store: Store) -> None:
    async with serve_contract([]) as server:
        link = f"{server.url.rsplit('/mcp', 1)[0]}/mcp/credentials/their-token"
        prose = [types.TextContent(type="text", text="Nothing to show yet.")]
        answers = (
            types.CallToolResult(content=prose, structured_content={"status": {"reason": "NO_CREDENTIALS"}}),
            types.CallToolResult(content=prose, structured_content={"next": [{"manage": link}]}),
        )
        crm = Crm(server, store)
        try:
            for answer in answers:
                server.tools[:] = standard_tools(get_person_overview=lambda _, answer=answer: answer)
                outcome = await crm.service.overview(SAM, "Ada")
                assert isinstance(outcome, ConnectNeeded) and "their-token" not in outcome.link
        finally:
            await crm.pool.close()


async def test_a_link_echoed_from_the_query_is_never_a_connect_button(store: Store) -> None:
    def echo(args: dict[str, object]) -> types.CallToolResult:
        return result({"error": "not_found", "message": f"No person matches {args.get('query')}"}, error=True)

    def echo_without_code(args: dict[str, object]) -> types.CallToolResult:
        return result(f"Nothing for {args.get('query')}", error=True)

    planted = "https://evil.example/mcp/credentials/x"
    async for _, crm in crm_for(standard_tools(get_person_overview=echo), store):
        assert isinstance(await crm.service.overview(SAM, planted), NotFound)
    async for _, crm in crm_for(standard_tools(get_person_overview=echo_without_code), store):
        outcome = await crm.service.overview(SAM, planted)
        assert isinstance(outcome, Failure) and outcome.reason is FailureReason.INVALID_INPUT
        assert "evil.example" not in outcome.detail


async def test_an_overview_shape_the_parser_does_not_know_is_shown_not_missed(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    shape = {"contact": {"fullName": "Ada Lovelace", "secretNote": "do not log me"}, "meta": {"v": 2}}
    async for _, crm in crm_for(standard_tools(get_person_overview=lambda _: result(shape)), store):
        with caplog.at_level(logging.WARNING, logger="bot.rollout.client"):
            first = await crm.service.overview(SAM, "Ada")
            await crm.service.overview(SAM, "Ada")
        assert isinstance(first, Unrecognised) and "Ada Lovelace" in first.text
        logged = [r.getMessage() for r in caplog.records if "unrecognised person overview" in r.getMessage()]
        assert len(logged) == 1 and "contact" in logged[0] and "meta" in logged[0]
        assert "do not log me" not in caplog.text and "Ada Lovelace" not in caplog.text


async def test_a_person_that_is_absent_is_still_not_found(store: Store) -> None:
    async for _, crm in crm_for(standard_tools(get_person_overview=lambda _: result({"person": None})), store):
        assert isinstance(await crm.service.overview(SAM, "Nobody"), NotFound)


async def test_the_agent_door_hears_no_crm_connected_in_a_normal_result(store: Store) -> None:
    async with serve_contract([]) as server:
        link = f"{server.url.rsplit('/mcp', 1)[0]}/mcp/credentials/their-token"
        server.tools.extend(standard_tools(create_note=lambda _: result({"ok": False, "connect": link})))
        crm = Crm(server, store)
        try:
            tools = await crm.service.tools(SAM)
            assert not isinstance(tools, Failure)
            create_note = next(t for t in tools if t.name == "create_note")
            outcome = await crm.service.call_tool(SAM, create_note, {"personId": ADA["id"]}, is_write=True)
            assert isinstance(outcome, ConnectNeeded) and "their-token" not in outcome.link
        finally:
            await crm.pool.close()


async def test_a_rollout_link_in_an_error_without_a_code_means_no_crm_connected(store: Store) -> None:
    async with serve_contract([]) as server:
        link = f"{server.url.rsplit('/mcp', 1)[0]}/mcp/credentials/their-token"
        server.tools.extend(standard_tools(create_person=lambda _: result(f"Connect a CRM at {link}", error=True)))
        crm = Crm(server, store)
        try:
            outcome = await crm.service.create_person(SAM, first_name="Grace", last_name=None, email="g@navy.example")
            assert isinstance(outcome, ConnectNeeded) and "their-token" not in outcome.link
        finally:
            await crm.pool.close()


@pytest.mark.parametrize(
    ("name", "annotations"),
    [
        ("get_person_overview", types.ToolAnnotations(destructive_hint=True)),  # destructive, readOnlyHint unsaid
        ("get_person_overview", types.ToolAnnotations(read_only_hint=False)),  # not read-only, nothing else said
        ("get_and_delete_person", None),  # a read word and a changing word
        ("budget_contacts_export", None),  # "get" only inside another word
    ],
)
async def test_overview_never_calls_the_only_person_tool_when_it_may_change_data(
    store: Store, name: str, annotations: types.ToolAnnotations | None
) -> None:
    unsafe = ContractTool(name, lambda _: result({"person": ADA}), ("personId", "query", "email"), annotations)
    others = [t for t in standard_tools() if t.name != "get_person_overview"]
    async for server, crm in crm_for([unsafe, *others], store):
        found = await crm.service.overview(SAM, "Ada Lovelace")
        assert isinstance(found, Failure) and found.reason is FailureReason.TOOL_MISSING
        assert server.called(name) == []
        tools = await crm.service.tools(SAM)
        assert not isinstance(tools, Failure) and name in crm.service.write_tools(tools)
