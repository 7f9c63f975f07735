"""Message shortcuts ("Save to CRM as note", "Create CRM task") and the CRM-backed person search in their modals."""

from __future__ import annotations

from bot.blocks import fields
from bot.blocks.values import decode_value
from bot.ids import Action, Shortcut, View
from tests.harness import CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


async def test_save_as_note_opens_a_modal_prefilled_with_the_message_and_its_link(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.message_shortcut(
        user, Shortcut.SAVE_AS_NOTE, text="Ada says *yes* to the pilot", message_ts="1700000300.000100"
    )

    permalink = await app_harness.slack.wait_for("chat.getPermalink")
    assert (permalink.args["channel"], permalink.args["message_ts"]) == (CHANNEL_ID, "1700000300.000100")
    modal = await app_harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.NOTE_SUBMIT
    (picker,) = modal.elements("external_select")
    assert picker["action_id"] == Action.PERSON_SELECT
    note = next(e for e in modal.elements() if e["action_id"] == fields.NOTE_TEXT)
    assert "Ada says" in note["initial_value"] and permalink.response["permalink"] in note["initial_value"]
    assert decode_value(modal.view["private_metadata"]) == {"ch": CHANNEL_ID, "u": user.user_id}


async def test_person_search_offers_crm_matches(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    answer = await app_harness.options(user, Action.PERSON_SELECT, "ada")
    too_short = await app_harness.options(user, Action.PERSON_SELECT, "a")

    options = answer.json()["options"]
    assert {o["text"]["text"] for o in options} == {
        "Ada Lovelace — Analytical Engines Ltd",
        "Ada Byron — Byron & Partners",
    }
    assert app_harness.crm_person(user, ADA).id in {o["value"] for o in options}
    assert too_short.json()["options"] == []


async def test_shortcut_task_is_created_for_the_person_picked(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    ada = app_harness.crm_person(user, ADA)
    await app_harness.message_shortcut(user, Shortcut.CREATE_TASK_FROM_MESSAGE, text="Send Ada the contract\nby Friday")
    modal = await app_harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.TASK_SUBMIT
    title = next(e for e in modal.elements() if e["action_id"] == fields.TASK_TITLE)
    assert title["initial_value"] == "Send Ada the contract"

    await app_harness.submit(user, modal, {fields.PERSON_SELECT: ada.id})
    await app_harness.settle()

    assert "Send Ada the contract" in [t.title for t in app_harness.crm_tasks(user, ada)]
    confirmation = app_harness.slack.calls_to("chat.postEphemeral")[-1]
    assert confirmation.args["user"] == user.user_id and confirmation.args["channel"] == CHANNEL_ID
