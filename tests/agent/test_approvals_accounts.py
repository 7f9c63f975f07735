"""The agent with several CRM accounts: the default is used for its reads, and an approved write goes to the account its
person was read from — or, when that account is gone, to the same person found again in the user's own account."""

from __future__ import annotations

from bench.fakes.anthropic_api import Reply, ToolCall
from bot.identity import SlackUser
from bot.rollout.outcomes import Credentials
from tests.scenarios import AgentRig


def _accounts(rig: AgentRig, user: SlackUser) -> tuple[str, str]:
    rig.sandbox.crm.set_accounts(user.default_subject, ["hubspot", "salesforce"])
    hubspot, salesforce = (a.id for a in rig.sandbox.crm.accounts(user.default_subject))
    return hubspot, salesforce


def _ada(rig: AgentRig, user: SlackUser, account: str) -> str:
    return rig.sandbox.crm.find_people(user.default_subject, account, query="Ada Lovelace")[0].id


def _tasks(rig: AgentRig, user: SlackUser, account: str) -> list[str]:
    ada = _ada(rig, user, account)
    return [t.title for t in rig.sandbox.crm.tasks_of(user.default_subject, account, ada)]


async def _propose(rig: AgentRig, user: SlackUser, ada: str, title: str) -> str:
    rig.model.script(
        Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)),
        Reply(text="Once you approve.", tool_calls=(ToolCall("create_task", {"personId": ada, "title": title}),)),
    )
    turn = await rig.agent.answer(user, rig.thread(), f"remind me: {title}")
    assert turn.approval is not None, turn
    return turn.approval.record.id


async def test_the_default_account_is_used_for_the_agents_reads_and_writes(rig: AgentRig) -> None:
    user = rig.user()
    _, salesforce = _accounts(rig, user)
    assert isinstance(await rig.services.crm.set_default_credential(user, salesforce), Credentials)

    approval = await _propose(rig, user, _ada(rig, user, salesforce), "Call about the renewal")
    decided = await rig.agent.approvals.decide(approval, user, approve=True)

    assert decided.status == "done"
    assert _tasks(rig, user, salesforce).count("Call about the renewal") == 1


async def test_a_default_changed_before_approval_does_not_move_the_write(rig: AgentRig) -> None:
    user = rig.user()
    hubspot, salesforce = _accounts(rig, user)
    await rig.services.crm.set_default_credential(user, salesforce)
    approval = await _propose(rig, user, _ada(rig, user, salesforce), "Send the contract")

    await rig.services.crm.set_default_credential(user, hubspot)  # the user switches accounts meanwhile
    decided = await rig.agent.approvals.decide(approval, user, approve=True)

    assert decided.status == "done"
    assert _tasks(rig, user, salesforce).count("Send the contract") == 1
    assert "Send the contract" not in _tasks(rig, user, hubspot)


async def test_when_the_account_is_gone_the_person_is_found_again_by_email(rig: AgentRig) -> None:
    user = rig.user()
    hubspot, salesforce = _accounts(rig, user)
    await rig.services.crm.set_default_credential(user, salesforce)
    approval = await _propose(rig, user, _ada(rig, user, salesforce), "Book the demo")

    rig.sandbox.crm.disconnect(user.default_subject, salesforce)
    await rig.services.crm.set_default_credential(user, hubspot)
    decided = await rig.agent.approvals.decide(approval, user, approve=True)

    assert decided.status == "done"
    assert _tasks(rig, user, hubspot).count("Book the demo") == 1  # Ada's hubspot record, not her salesforce id
