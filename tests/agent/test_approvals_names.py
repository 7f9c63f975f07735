"""An approval card names the person a write is for — name, email, CRM account — never their CRM id, and a card rebuilt
after a click says what was proposed: the same person and the same kind of write, without reading the CRM again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import mcp_types as types
import pytest

from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall
from bot.agent.writes import WriteDescription
from bot.ids import Action
from tests.contracts import (
    ADA,
    DESTRUCTIVE,
    ContractServer,
    ContractTool,
    result,
    serve_contract,
    standard_tools,
)
from tests.harness import CHANNEL_ID, AppHarness
from tests.scenarios import MakeRig

ACCOUNT = {"id": "cred-1", "appKey": "hubspot", "label": "Acme"}


class Overviews:
    """get_person_overview that can be made to fail, so a test can tell whether the card read the CRM again."""

    def __init__(self) -> None:
        self.failing = False

    def __call__(self, _: dict[str, Any]) -> types.CallToolResult:
        if self.failing:
            return result({"error": "unavailable", "message": "try later"}, error=True)
        return result({"person": ADA, "notes": [], "tasks": [], "credential": ACCOUNT})


@pytest.fixture
def overviews() -> Overviews:
    return Overviews()


@pytest.fixture
async def crm(overviews: Overviews) -> AsyncIterator[ContractServer]:
    tools = standard_tools(
        list_credentials=lambda _: result({"credentials": [ACCOUNT]}),
        get_person_overview=overviews,
    )
    async with serve_contract(tools) as server:
        yield server


def _shown(description: WriteDescription) -> str:
    return " ".join([description.label, description.summary, *(f"{k} {v}" for k, v in description.details)])


def _note_without_lookup(model: FakeAnthropic) -> None:
    # The model writes for a person id it was given, never looking them up in this conversation.
    model.script(Reply(tool_calls=(ToolCall("create_note", {"personId": ADA["id"], "content": "Signed"}),)))


async def test_a_write_for_someone_the_conversation_never_looked_up_names_them_after_one_read(
    make_rig: MakeRig, crm: ContractServer, overviews: Overviews
) -> None:
    rig = await make_rig(rollout_mcp_url=crm.url)
    user = rig.user()
    await rig.services.crm.set_default_credential(user, ACCOUNT["id"])
    _note_without_lookup(rig.model)

    turn = await rig.agent.answer(user, rig.thread(), "note on p-ada: signed")

    assert turn.approval is not None
    proposed = turn.approval.description
    assert proposed.summary == "Add note “Signed” for Ada Lovelace"
    assert ("Person", "Ada Lovelace") in proposed.details
    assert ("Email", "ada@example.com") in proposed.details
    assert ("CRM account", "Acme (hubspot)") in proposed.details
    assert ADA["id"] not in _shown(proposed)
    reads = len(crm.called("get_person_overview"))
    assert reads == 1

    overviews.failing = True  # a rebuilt card must not need the CRM
    rebuilt = await rig.agent.approvals.describe(turn.approval.record)

    assert rebuilt == proposed
    assert len(crm.called("get_person_overview")) == reads
    decided = await rig.agent.approvals.decide(turn.approval.record.id, user, approve=True)
    assert decided.status == "done", decided
    # What the card remembers is never sent to the tool.
    assert crm.called("create_note") == [{"credentialId": ACCOUNT["id"], "personId": ADA["id"], "content": "Signed"}]


async def test_when_the_read_fails_the_card_says_someone_in_your_crm_never_the_id(
    make_rig: MakeRig, crm: ContractServer, overviews: Overviews
) -> None:
    rig = await make_rig(rollout_mcp_url=crm.url)
    user = rig.user()
    await rig.services.crm.set_default_credential(user, ACCOUNT["id"])
    overviews.failing = True
    _note_without_lookup(rig.model)

    turn = await rig.agent.answer(user, rig.thread(), "note on p-ada: signed")

    assert turn.approval is not None
    assert turn.approval.description.summary == "Add note “Signed” for someone in your CRM"
    assert ADA["id"] not in _shown(turn.approval.description)
    assert ADA["id"] not in _shown(await rig.agent.approvals.describe(turn.approval.record))


async def test_a_rebuilt_card_keeps_the_kind_of_write_decided_at_proposal(make_rig: MakeRig) -> None:
    # The server marks create_note destructive: it is then not "Add a note" but a tool run as named.
    tools = [
        ContractTool(t.name, t.handler, t.properties, DESTRUCTIVE) if t.name == "create_note" else t
        for t in standard_tools(list_credentials=lambda _: result({"credentials": [ACCOUNT]}))
    ]
    async with serve_contract(tools) as server:
        rig = await make_rig(rollout_mcp_url=server.url)
        user = rig.user()
        await rig.services.crm.set_default_credential(user, ACCOUNT["id"])
        _note_without_lookup(rig.model)
        turn = await rig.agent.answer(user, rig.thread(), "note on p-ada: signed")
        assert turn.approval is not None
        assert turn.approval.description.label == "Run create_note"

        edited = await rig.agent.approvals.edit(turn.approval.record.id, user, {"content": "Signed today"})
        rebuilt = await rig.agent.approvals.describe(edited.record or turn.approval.record)

    assert edited.description is not None and edited.description.label == "Run create_note"
    assert edited.description.summary == "Run create_note for Ada Lovelace"
    assert rebuilt.label == "Run create_note"


async def test_the_approval_card_in_slack_names_the_person(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    harness = agent_harness
    user = harness.new_user()
    ada = harness.crm_person(user, "ada.lovelace@analytical-engines.example")
    model.script(
        Reply(tool_calls=(ToolCall("create_note", {"personId": ada.id, "content": "Renewal signed"}),)),
        Reply(text="Noted."),
    )
    ts = "1700004000.000001"

    await harness.event(
        {"type": "app_mention", "user": user.user_id, "text": "<@U0BOT> note it", "ts": ts, "channel": CHANNEL_ID}
    )
    card = await harness.slack.wait_for("chat.postEphemeral", lambda c: Action.APPROVAL_APPROVE in c.action_ids)

    assert card.contains("Ada Lovelace") and card.contains("ada.lovelace@analytical-engines.example")
    assert not card.contains(ada.id)
