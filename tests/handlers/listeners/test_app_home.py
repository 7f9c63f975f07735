"""App Home: connection status, quick actions (connect, look up a person) and recent actions."""

from __future__ import annotations

from bench.fakes import FakeSlackApi
from bot.blocks import fields
from bot.identity import SlackUser
from bot.ids import Action, View
from tests.harness import AppHarness

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
