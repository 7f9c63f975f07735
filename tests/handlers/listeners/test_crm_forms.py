"""Card buttons open modals; submissions validate inline, write once, and confirm in the card's thread."""

from __future__ import annotations

import asyncio
import json

from bench.fakes import Call
from bot.blocks import fields
from bot.blocks.messages import USER_MESSAGES
from bot.blocks.values import decode_value
from bot.identity import SlackUser
from bot.ids import Action, View
from tests.harness import CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


async def _card(harness: AppHarness, user: SlackUser) -> Call:
    """The card in the channel: shown to the user, then shared by them."""
    await harness.command(user, f"overview {ADA}")
    private = await harness.slack.wait_for("response_url", lambda call: call.contains("Ada Lovelace"))
    mark = harness.slack.mark()
    await harness.click(user, private, Action.PERSON_SHARE)
    return await harness.slack.wait_for("chat.postMessage", lambda call: call.contains("Ada Lovelace"), since=mark)


async def _open(harness: AppHarness, user: SlackUser, card: Call, action: Action) -> Call:
    mark = harness.slack.mark()
    await harness.click(user, card, action)
    return await harness.slack.wait_for("views.open", since=mark)


async def test_add_note_opens_the_note_modal_with_ids_only(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    card = await _card(app_harness, user)

    modal = await _open(app_harness, user, card, Action.PERSON_ADD_NOTE)

    assert modal.view["callback_id"] == View.NOTE_SUBMIT
    assert modal.contains("Ada Lovelace")  # named from the card's header
    assert [e["action_id"] for e in modal.elements()] == [fields.NOTE_TEXT]
    metadata = decode_value(modal.view["private_metadata"])
    ada = app_harness.crm_person(user, ADA)
    assert metadata == {
        "p": ada.id,
        "e": ADA,
        "c": app_harness.crm_account(user),
        "ch": CHANNEL_ID,
        "t": metadata["t"],  # the card's ts: the confirmation goes in its thread
        "u": user.user_id,
    }
    assert metadata["t"]
    assert "token" not in json.dumps(modal.view).lower()


async def test_note_submitted_three_times_is_written_once_and_confirmed_in_the_cards_thread(
    app_harness: AppHarness,
) -> None:
    user = app_harness.new_user()
    ada = app_harness.crm_person(user, ADA)
    before = len(app_harness.crm_notes(user, ada))
    card = await _card(app_harness, user)
    modal = await _open(app_harness, user, card, Action.PERSON_ADD_NOTE)
    mark = app_harness.slack.mark()

    answers = await asyncio.gather(
        *(app_harness.submit(user, modal, {fields.NOTE_TEXT: "Wants the enterprise plan"}) for _ in range(3))
    )
    await app_harness.settle()

    assert {(a.status, a.body) for a in answers} == {(200, "")}  # each closes the modal
    notes = app_harness.crm_notes(user, ada)
    assert len(notes) == before + 1 and notes[0].content == "Wants the enterprise plan"
    (confirmation,) = app_harness.slack.calls_to("chat.postMessage", since=mark)
    assert confirmation.args["channel"] == CHANNEL_ID
    assert confirmation.args["thread_ts"] == decode_value(modal.view["private_metadata"])["t"]
    assert confirmation.contains("Wants the enterprise plan")


async def test_create_task_modal_writes_title_due_date_and_description(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    card = await _card(app_harness, user)
    modal = await _open(app_harness, user, card, Action.PERSON_CREATE_TASK)
    assert modal.view["callback_id"] == View.TASK_SUBMIT
    assert {fields.TASK_TITLE, fields.TASK_DUE, fields.TASK_DESCRIPTION} <= set(modal.action_ids)

    await app_harness.submit(
        user,
        modal,
        {fields.TASK_TITLE: "Book the demo", fields.TASK_DUE: "2027-02-01", fields.TASK_DESCRIPTION: "Whole team"},
    )
    await app_harness.settle()

    tasks = app_harness.crm_tasks(user, app_harness.crm_person(user, ADA))
    assert [(t.due_date, t.description) for t in tasks if t.title == "Book the demo"] == [("2027-02-01", "Whole team")]


async def test_empty_fields_come_back_as_inline_errors_and_nothing_is_written(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    ada = app_harness.crm_person(user, ADA)
    before = len(app_harness.crm_tasks(user, ada))
    card = await _card(app_harness, user)
    modal = await _open(app_harness, user, card, Action.PERSON_CREATE_TASK)

    refused = await app_harness.submit(user, modal, {fields.TASK_TITLE: "   "})
    fixed = await app_harness.submit(user, modal, {fields.TASK_TITLE: "Call back"})  # same view, corrected
    await app_harness.settle()

    answer = refused.json()
    assert answer["response_action"] == "errors" and set(answer["errors"]) == {fields.TASK_TITLE}
    assert fixed.status == 200 and fixed.body == ""
    assert [t.title for t in app_harness.crm_tasks(user, ada)[before:]] == ["Call back"]


async def test_person_modal_rejects_a_bad_email_inline(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    await app_harness.command(user, "person Grace")
    modal = await app_harness.slack.wait_for("views.open")

    refused = await app_harness.submit(user, modal, {fields.PERSON_EMAIL: "not-an-email"})

    assert refused.json()["response_action"] == "errors"
    assert set(refused.json()["errors"]) == {fields.PERSON_EMAIL}


async def test_someone_else_submitting_a_users_modal_is_refused(app_harness: AppHarness) -> None:
    owner, intruder = app_harness.new_user(), app_harness.new_user()
    ada = app_harness.crm_person(owner, ADA)
    before = len(app_harness.crm_notes(owner, ada))
    card = await _card(app_harness, owner)
    modal = await _open(app_harness, owner, card, Action.PERSON_ADD_NOTE)
    mark = app_harness.slack.mark()

    sent = await app_harness.submit(intruder, modal, {fields.NOTE_TEXT: "Not mine to write"})
    await app_harness.settle()

    assert sent.status == 200
    refusal = await app_harness.slack.wait_for("chat.postEphemeral", since=mark)
    assert refusal.args["user"] == intruder.user_id
    assert refusal.text == USER_MESSAGES["not_your_button"]
    assert len(app_harness.crm_notes(owner, ada)) == before
    assert not any(c.contains("Not mine to write") for c in app_harness.slack.calls)


async def test_a_note_from_a_card_whose_account_went_away_goes_to_the_same_person_in_the_users_own_account(
    app_harness: AppHarness,
) -> None:
    user = app_harness.new_user(accounts=("hubspot", "salesforce"))
    hubspot = app_harness.crm_account(user, 0)
    await app_harness.services.crm.set_default_credential(user, hubspot)
    card = await _card(app_harness, user)  # Ada as the hubspot account holds her
    modal = await _open(app_harness, user, card, Action.PERSON_ADD_NOTE)
    app_harness.sandbox.crm.disconnect(user.default_subject, hubspot)  # meanwhile, in Rollout
    ada_elsewhere = app_harness.crm_person(user, ADA, account=0)  # the remaining (salesforce) account
    mark = app_harness.slack.mark()

    await app_harness.submit(user, modal, {fields.NOTE_TEXT: "Renewal signed"})
    await app_harness.settle()

    notes = app_harness.crm_notes(user, ada_elsewhere)
    assert [n.content for n in notes].count("Renewal signed") == 1  # found again by email, never by the old id
    (confirmation,) = app_harness.slack.calls_to("chat.postMessage", since=mark)
    assert confirmation.contains("Renewal signed")
