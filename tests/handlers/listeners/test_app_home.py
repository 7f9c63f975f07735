"""App Home (status, quick actions, recent actions) and the message shortcuts with their CRM-backed person search."""

from __future__ import annotations

from bench.fakes import FakeSlackApi
from bot.blocks import fields
from bot.blocks.values import decode_value
from bot.identity import SlackUser
from bot.ids import Action, Shortcut, View
from tests.harness import CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


def _home_opened(user: SlackUser) -> dict[str, str]:
    return {"type": "app_home_opened", "user": user.user_id, "channel": f"D{user.user_id}", "tab": "home"}


async def test_opening_app_home_publishes_status_quick_actions_and_recent_actions(app_harness: AppHarness) -> None:
    user = app_harness.new_user(["hubspot", "salesforce"])
    await app_harness.command(user, "credentials")
    listed = await app_harness.slack.wait_for("response_url")
    await app_harness.click(
        user, listed, Action.CREDENTIAL_MAKE_DEFAULT, value=f'{{"c":"{app_harness.crm_account(user, 1)}"}}'
    )
    await app_harness.settle()

    sent = await app_harness.event(_home_opened(user))

    assert sent.status == 200
    home = await app_harness.slack.wait_for("views.publish")
    assert home.args["user_id"] == user.user_id and home.view["type"] == "home"
    assert {Action.HOME_CONNECT, Action.HOME_LOOKUP} <= set(home.action_ids)
    assert home.contains("HubSpot") and home.contains("Salesforce")
    assert home.contains("Changed your default CRM account")  # recent actions


async def test_the_same_event_delivered_twice_publishes_once(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.event(_home_opened(user), event_id="Ev0SAMEHOME")
    await app_harness.event(_home_opened(user), event_id="Ev0SAMEHOME")
    await app_harness.settle()

    assert len(app_harness.slack.calls_to("views.publish")) == 1


async def test_home_connect_dms_the_link(app_harness: AppHarness) -> None:
    user = app_harness.new_user([])
    await app_harness.event(_home_opened(user))
    home = await app_harness.slack.wait_for("views.publish")
    assert home.contains("No CRM connected")

    await app_harness.click(user, home, Action.HOME_CONNECT)
    await app_harness.settle()

    (dm,) = app_harness.slack.calls_to("chat.postMessage")
    assert dm.args["channel"] == FakeSlackApi.dm_channel(user.user_id)
    assert "/mcp/credentials/" in dm.button(Action.CONNECT_OPEN)["url"]
    assert not app_harness.slack.calls_to("chat.postEphemeral")  # App Home has no channel to tell


async def test_home_lookup_posts_the_card_to_the_users_dm(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    await app_harness.event(_home_opened(user))
    home = await app_harness.slack.wait_for("views.publish")
    await app_harness.click(user, home, Action.HOME_LOOKUP)
    modal = await app_harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.LOOKUP_SUBMIT

    await app_harness.submit(user, modal, {fields.LOOKUP_QUERY: ADA})

    card = await app_harness.slack.wait_for("chat.postMessage")
    assert card.args["channel"] == FakeSlackApi.dm_channel(user.user_id)
    assert card.blocks[0]["text"]["text"] == "Ada Lovelace"


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
