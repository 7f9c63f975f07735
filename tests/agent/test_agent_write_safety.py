"""What may become an approval card, and with which words and person: a write never rides along with a read that needs
the user first, and a tool result the CRM marked as an error never names the person a write is for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import mcp_types as types
import pytest

from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall
from bot.blocks.messages import USER_MESSAGES
from bot.ids import Action
from bot.rollout.outcomes import ChooseCredential, Failure, FailureReason
from tests.contracts import ADA, ContractServer, ContractTool, result, serve_contract, standard_tools
from tests.harness import AppHarness
from tests.scenarios import AgentRig, MakeRig

# ---- a read that needs an account choice, with a write in the same response ---------------------------------------


async def test_a_write_beside_a_read_that_needs_an_account_choice_is_not_proposed(rig: AgentRig) -> None:
    user = rig.user()
    rig.sandbox.crm.set_accounts(user.default_subject, ["hubspot", "salesforce"])  # no default: Rollout asks which
    account = rig.sandbox.crm.accounts(user.default_subject)[0].id
    ada = rig.sandbox.crm.find_people(user.default_subject, account, query="Ada Lovelace")[0]
    notes_before = rig.sandbox.crm.notes_of(user.default_subject, account, ada.id)
    rig.model.script(
        Reply(
            tool_calls=(
                ToolCall("get_person_overview", {"query": "Ada Lovelace"}),
                ToolCall("create_note", {"personId": ada.id, "content": "Renewal signed"}),
            )
        )
    )

    turn = await rig.agent.answer(user, rig.thread(), "look up Ada and note that the renewal is signed")

    assert turn.approval is None
    assert isinstance(turn.problem, ChooseCredential)  # the Slack flow asks the user for the account
    assert rig.sandbox.crm.notes_of(user.default_subject, account, ada.id) == notes_before
    assert rig.model.unused == 0 and len(rig.model.requests) == 1


async def test_through_slack_the_user_is_asked_for_the_account_and_shown_no_approval_card(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user(accounts=["hubspot", "salesforce"])
    ada = agent_harness.crm_person(user, "ada.lovelace@analytical-engines.example")
    notes_before = agent_harness.crm_notes(user, ada)
    model.script(
        Reply(
            tool_calls=(
                ToolCall("get_person_overview", {"query": "Ada Lovelace"}),
                ToolCall("create_note", {"personId": ada.id, "content": "Renewal signed"}),
            )
        )
    )

    await agent_harness.command(user, "please look up Ada and note that the renewal is signed")
    await agent_harness.slack.wait_for("response_url", lambda call: Action.CREDENTIAL_CHOOSE in call.action_ids)
    await agent_harness.settle()

    assert not any(Action.APPROVAL_APPROVE in call.action_ids for call in agent_harness.slack.calls)
    assert agent_harness.crm_notes(user, ada) == notes_before


# ---- an error result that names a person ------------------------------------------------------------------------

GRACE = {"id": "p-grace-a", "name": "Grace Hopper", "email": "grace@navy.example"}
ADA_IN_A = {**ADA, "id": "p-ada-a"}
ACCOUNT_A = {"id": "cred-a", "appKey": "hubspot", "label": "A"}
ACCOUNT_B = {"id": "cred-b", "appKey": "salesforce", "label": "B"}


def _overview(arguments: dict[str, Any]) -> types.CallToolResult:
    if arguments.get("query") == "Ada Lovelace":
        return result({"person": ADA, "notes": [], "tasks": [], "credential": ACCOUNT_B})
    if arguments.get("email") == ADA["email"]:
        return result({"person": ADA_IN_A, "notes": [], "tasks": [], "credential": ACCOUNT_A})
    if arguments.get("email") == GRACE["email"]:
        return result({"person": GRACE, "notes": [], "tasks": [], "credential": ACCOUNT_A})
    # An error that echoes a person record with Ada's id but someone else's name and email.
    planted = {"id": ADA["id"], "name": GRACE["name"], "email": GRACE["email"]}
    return result({"error": "not_found", "message": "No exact match.", "person": planted}, error=True)


def _create_note(arguments: dict[str, Any]) -> types.CallToolResult:
    if arguments.get("credentialId") == ACCOUNT_B["id"]:  # account B was disconnected before the click
        return result(
            {"error": "invalid_credential", "message": "Credential 'cred-b' is not a valid credential."}, error=True
        )
    return result({"note": {"id": "n-1", "content": arguments.get("content")}})


@pytest.fixture
async def two_accounts() -> AsyncIterator[ContractServer]:
    tools = standard_tools(
        list_credentials=lambda _: result({"credentials": [ACCOUNT_A, ACCOUNT_B]}),
        get_person_overview=_overview,
        create_note=_create_note,
    )
    async with serve_contract(tools) as server:
        yield server


async def test_an_error_result_naming_a_person_never_feeds_the_card_or_the_refind(
    make_rig: MakeRig, two_accounts: ContractServer
) -> None:
    rig = await make_rig(rollout_mcp_url=two_accounts.url)
    user = rig.user()
    assert not isinstance(await rig.services.crm.set_default_credential(user, ACCOUNT_A["id"]), Failure)
    rig.model.script(
        Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)),  # Ada, found in B
        Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada L."}),)),  # an error naming "Grace"
        Reply(tool_calls=(ToolCall("create_note", {"personId": ADA["id"], "content": "Signed"}),)),
        Reply(text="Noted."),
    )

    turn = await rig.agent.answer(user, rig.thread(), "note on Ada: signed")

    assert turn.approval is not None
    assert turn.approval.description.summary == "Add note “Signed” for Ada Lovelace"
    assert turn.approval.record.arguments["credentialId"] == ACCOUNT_B["id"]  # pinned to where Ada was read
    card = await rig.agent.approvals.describe(turn.approval.record)  # the card as a later click rebuilds it
    assert "Grace" not in card.summary and "Ada Lovelace" in card.summary

    decided = await rig.agent.approvals.decide(turn.approval.record.id, user, approve=True)

    assert decided.status == "done", decided
    # B is gone, so Ada is found again in A by her own email, never by the one in the error.
    written = [a for a in two_accounts.called("create_note") if a.get("credentialId") != ACCOUNT_B["id"]]
    assert written == [{"credentialId": ACCOUNT_A["id"], "personId": ADA_IN_A["id"], "content": "Signed"}]


# ---- the session drops while an approved write is on the wire ---------------------------------------------------


async def test_a_write_whose_session_drops_on_the_wire_is_reported_unconfirmed_and_never_sent_again(
    make_rig: MakeRig,
) -> None:
    rig: AgentRig | None = None
    user_of_test = None
    landed: list[dict[str, Any]] = []  # what the CRM wrote

    async def write_then_lose_the_answer(arguments: dict[str, Any]) -> types.CallToolResult:
        landed.append(arguments)  # the write happens in the CRM…
        assert rig is not None and user_of_test is not None
        async with rig.services.pool.session(user_of_test) as session:  # …then the connection carrying it dies
            pass
        await rig.services.pool.discard(session)
        return result({"note": {"id": "n-1", "content": arguments.get("content")}})

    async with serve_contract(standard_tools(create_note=write_then_lose_the_answer)) as server:
        rig = await make_rig(rollout_mcp_url=server.url)
        user = user_of_test = rig.user()
        rig.model.script(
            Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)),
            Reply(tool_calls=(ToolCall("create_note", {"personId": ADA["id"], "content": "Signed"}),)),
        )
        turn = await rig.agent.answer(user, rig.thread(), "note on Ada: signed")
        assert turn.approval is not None

        decided = await rig.agent.approvals.decide(turn.approval.record.id, user, approve=True)

        assert decided.status == "failed", decided
        assert decided.result_text == USER_MESSAGES[FailureReason.WRITE_UNCONFIRMED]  # it may have landed: check
        again = await rig.agent.approvals.decide(turn.approval.record.id, user, approve=True)
        assert again.status == "already_done"
        assert len(landed) == 1 and len(server.called("create_note")) == 1  # sent once, never again


# ---- which account a proposed write is pinned to ------------------------------------------------------------------


async def test_a_write_is_pinned_to_the_default_its_read_used_when_the_overview_names_no_account(
    make_rig: MakeRig,
) -> None:
    tools = standard_tools(list_credentials=lambda _: result({"credentials": [ACCOUNT_A, ACCOUNT_B]}))
    async with serve_contract(tools) as server:  # its overview says nothing about the account it read
        rig = await make_rig(rollout_mcp_url=server.url)
        user = rig.user()
        assert not isinstance(await rig.services.crm.set_default_credential(user, ACCOUNT_A["id"]), Failure)
        rig.model.script(
            Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)),
            Reply(tool_calls=(ToolCall("create_note", {"personId": ADA["id"], "content": "Signed"}),)),
            Reply(text="Noted."),
        )
        turn = await rig.agent.answer(user, rig.thread(), "note on Ada: signed")
        assert turn.approval is not None

        await rig.services.crm.set_default_credential(user, ACCOUNT_B["id"])  # switched before approving
        decided = await rig.agent.approvals.decide(turn.approval.record.id, user, approve=True)

        assert decided.status == "done", decided
        assert [a["credentialId"] for a in server.called("create_note")] == [ACCOUNT_A["id"]]


async def test_a_write_tool_that_takes_no_account_is_never_given_one(make_rig: MakeRig) -> None:
    tools = standard_tools()
    task = next(t for t in tools if t.name == "create_task")
    task.properties = tuple(p for p in task.properties if p != "credentialId")
    async with serve_contract(tools) as server:
        rig = await make_rig(rollout_mcp_url=server.url)
        user = rig.user()
        assert not isinstance(await rig.services.crm.set_default_credential(user, "cred-1"), Failure)  # a default
        rig.model.script(
            Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)),
            Reply(tool_calls=(ToolCall("create_task", {"personId": ADA["id"], "title": "Call Ada"}),)),
            Reply(text="Done."),
        )
        turn = await rig.agent.answer(user, rig.thread(), "remind me to call Ada")
        assert turn.approval is not None
        assert "credentialId" not in turn.approval.record.arguments

        decided = await rig.agent.approvals.decide(turn.approval.record.id, user, approve=True)

        assert decided.status == "done", decided
        assert server.called("create_task") == [{"personId": ADA["id"], "title": "Call Ada"}]


async def test_a_crm_refusal_shown_on_the_card_carries_no_token(make_rig: MakeRig) -> None:
    token = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ0ZWFtL3VzZXIifQ.c2lnbmF0dXJlLXN0YW5kLWlu"
    refusing = result({"error": "bad_input", "message": f"Bearer {token} may not write notes"}, error=True)
    async with serve_contract(standard_tools(create_note=lambda _: refusing)) as server:
        rig = await make_rig(rollout_mcp_url=server.url)
        user = rig.user()
        rig.model.script(
            Reply(tool_calls=(ToolCall("create_note", {"personId": ADA["id"], "content": "Signed"}),)),
            Reply(text="That didn't work."),
        )
        turn = await rig.agent.answer(user, rig.thread(), "note on Ada: signed")
        assert turn.approval is not None

        decided = await rig.agent.approvals.decide(turn.approval.record.id, user, approve=True)

        assert decided.status == "failed" and decided.result_text is not None
        assert "may not write notes" in decided.result_text and token not in decided.result_text


@pytest.mark.parametrize(
    ("name", "annotations"),
    [
        ("get_and_delete_person", None),
        ("budget_contacts_export", None),
        ("lookup_person", types.ToolAnnotations(destructive_hint=True)),
        ("lookup_person", types.ToolAnnotations(read_only_hint=False)),
    ],
)
async def test_the_agent_runs_a_tool_that_may_change_data_only_after_a_click(
    make_rig: MakeRig, name: str, annotations: types.ToolAnnotations | None
) -> None:
    unsafe = ContractTool(name, lambda _: result({"person": ADA}), ("personId", "query"), annotations)
    async with serve_contract([unsafe, *standard_tools()]) as server:
        rig = await make_rig(rollout_mcp_url=server.url)
        rig.model.script(Reply(tool_calls=(ToolCall(name, {"query": "Ada Lovelace"}),)))

        turn = await rig.agent.answer(rig.user(), rig.thread(), "look up Ada")

        assert turn.approval is not None and turn.approval.record.tool_name == name
        assert server.called(name) == []
