"""Which CRM account to use, and connecting one: the picker, the parked request, and the link that stays in the DM."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bench.fakes import Call, FakeSlackApi
from bot.blocks.messages import USER_MESSAGES
from bot.blocks.values import decode_value
from bot.identity import SlackUser
from bot.ids import Action
from bot.logs import install_redaction
from tests.harness import CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


async def _picker(harness: AppHarness, user: SlackUser, text: str) -> Call:
    await harness.command(user, text)
    return await harness.slack.wait_for("response_url", lambda call: Action.CREDENTIAL_CHOOSE in call.action_ids)


def _choice(picker: Call, credential_id: str) -> str:
    for button in picker.elements("button"):
        if decode_value(button.get("value"))["c"] == credential_id:
            return button["value"]
    raise AssertionError(f"no button for {credential_id}")


async def test_choosing_an_account_saves_it_as_default_and_runs_the_original_request(app_harness: AppHarness) -> None:
    user = app_harness.new_user(["hubspot", "salesforce"])
    picker = await _picker(app_harness, user, f"overview {ADA}")
    assert picker.args["response_type"] == "ephemeral"
    assert picker.contains("HubSpot") and picker.contains("Salesforce")
    salesforce = app_harness.crm_account(user, 1)
    mark = app_harness.slack.mark()

    await app_harness.click(user, picker, Action.CREDENTIAL_CHOOSE, value=_choice(picker, salesforce))

    card = await app_harness.slack.wait_for("response_url", lambda c: c.contains("Ada Lovelace"), since=mark)
    assert card.args["response_type"] == "ephemeral" and card.contains("Salesforce")
    assert decode_value(card.button(Action.PERSON_ADD_NOTE)["value"])["c"] == salesforce
    assert (await app_harness.services.store.users.get_or_create(user)).default_credential_id == salesforce
    deleted = await app_harness.slack.wait_for("response_url", lambda c: c.args.get("delete_original") is True)
    assert deleted.seq > mark


async def test_a_parked_note_runs_once_however_often_the_choice_is_clicked(app_harness: AppHarness) -> None:
    user = app_harness.new_user(["hubspot", "pipedrive"])
    picker = await _picker(app_harness, user, f"note {ADA} Prefers email")
    pipedrive = app_harness.crm_account(user, 1)
    ada = app_harness.crm_person(user, ADA, account=1)
    before = len(app_harness.crm_notes(user, ada, account=1))

    await asyncio.gather(
        *(app_harness.click(user, picker, Action.CREDENTIAL_CHOOSE, value=_choice(picker, pipedrive)) for _ in range(3))
    )
    await app_harness.settle()

    notes = app_harness.crm_notes(user, ada, account=1)
    assert len(notes) == before + 1 and notes[0].content == "Prefers email"
    assert len(app_harness.crm_notes(user, app_harness.crm_person(user, ADA, account=0), account=0)) == before


async def test_another_user_cannot_run_someone_elses_parked_request(app_harness: AppHarness) -> None:
    owner = app_harness.new_user(["hubspot", "salesforce"])
    intruder = app_harness.new_user(["hubspot", "salesforce"])
    picker = await _picker(app_harness, owner, f"note {ADA} Owner's note")
    value = _choice(picker, app_harness.crm_account(owner, 0))
    mark = app_harness.slack.mark()

    await app_harness.click(intruder, picker, Action.CREDENTIAL_CHOOSE, value=value)
    await app_harness.settle()

    refusal = await app_harness.slack.wait_for("response_url", since=mark)
    assert refusal.args["response_type"] == "ephemeral" and refusal.text == USER_MESSAGES["expired"]
    assert (await app_harness.services.store.users.get_or_create(intruder)).default_credential_id is None
    assert not any(c.contains("Owner's note") for c in app_harness.slack.calls_to("chat.postMessage"))

    # The owner's request is still waiting for them.
    await app_harness.click(owner, picker, Action.CREDENTIAL_CHOOSE, value=value)
    await app_harness.settle()
    assert app_harness.crm_notes(owner, app_harness.crm_person(owner, ADA))[0].content == "Owner's note"


async def test_no_crm_connected_sends_the_link_by_dm_only(
    app_harness: AppHarness, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction(caplog.handler)  # as configure_logging does for every handler
    caplog.set_level(logging.DEBUG)
    user = app_harness.new_user([])

    await app_harness.command(user, f"overview {ADA}")
    await app_harness.settle()

    slack = app_harness.slack
    dm_channel = FakeSlackApi.dm_channel(user.user_id)
    (opened,) = slack.calls_to("conversations.open")
    assert opened.args["users"] == user.user_id
    (dm,) = [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == dm_channel]
    link = dm.button(Action.CONNECT_OPEN)["url"]
    assert "/mcp/credentials/" in link
    assert link not in dm.text and not any(link in str(b.get("text")) for b in dm.blocks)  # only as the button url
    assert Action.CONNECT_RETRY in dm.action_ids

    elsewhere = [c for c in slack.calls if c is not dm]
    assert not any(c.contains(link) or c.contains("/mcp/credentials/") for c in elsewhere)
    (check_dms,) = slack.calls_to("response_url")
    assert check_dms.args["response_type"] == "ephemeral" and "DM" in check_dms.text
    assert not any(c.args.get("channel") == CHANNEL_ID for c in slack.calls_to("chat.postMessage"))
    records = [f"{r.getMessage()} {r.args}" for r in caplog.records]
    assert records and not any(link in r or "/mcp/credentials/" in r for r in records)


@pytest.mark.parametrize("refusing", ["conversations.open", "chat.postMessage"])
async def test_when_the_dm_with_the_link_fails_no_other_message_carries_it(
    app_harness: AppHarness, refusing: str
) -> None:
    user = app_harness.new_user([])
    app_harness.slack.fail_next(refusing, status=200, error="cannot_dm_bot")

    await app_harness.command(user, f"overview {ADA}")
    await app_harness.settle()

    slack = app_harness.slack
    assert [c.ok for c in slack.calls_to(refusing)] == [False]  # the DM really failed
    dm_channel = FakeSlackApi.dm_channel(user.user_id)
    refused_dm = [c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == dm_channel and not c.ok]
    delivered = [c for c in slack.calls if c not in refused_dm and c.ok]
    assert not any(
        c.contains("/mcp/credentials/") or Action.CONNECT_OPEN in c.action_ids
        for c in slack.calls
        if c not in refused_dm
    )
    told = [c for c in delivered if c.method in ("response_url", "chat.postEphemeral")]
    assert told and all(c.args.get("response_type", "ephemeral") == "ephemeral" for c in told)  # told privately
    assert [c.text for c in told] == [USER_MESSAGES["slack_error"]]
    assert not any(c.args.get("channel") == CHANNEL_ID for c in slack.calls_to("chat.postMessage"))


async def test_try_again_after_connecting_runs_the_request_in_the_original_channel(app_harness: AppHarness) -> None:
    user = app_harness.new_user([])
    await app_harness.command(user, f"overview {ADA}")
    dm = await app_harness.slack.wait_for("chat.postMessage", lambda c: Action.CONNECT_RETRY in c.action_ids)
    app_harness.sandbox.crm.connect(user.default_subject, "hubspot")  # what the user does in the credential manager
    mark = app_harness.slack.mark()

    await app_harness.click(user, dm, Action.CONNECT_RETRY)

    card = await app_harness.slack.wait_for("chat.postEphemeral", lambda c: c.contains("Ada Lovelace"), since=mark)
    assert card.args["channel"] == CHANNEL_ID and card.args["user"] == user.user_id


async def test_connect_command_dms_the_link(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.command(user, "connect")
    await app_harness.settle()

    (dm,) = app_harness.slack.calls_to("chat.postMessage")
    assert dm.args["channel"] == FakeSlackApi.dm_channel(user.user_id)
    assert "/mcp/credentials/" in dm.button(Action.CONNECT_OPEN)["url"]
    assert Action.CONNECT_RETRY not in dm.action_ids  # nothing was waiting
    (check_dms,) = app_harness.slack.calls_to("response_url")
    assert not check_dms.contains("/mcp/credentials/")
