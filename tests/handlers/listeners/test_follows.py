"""Following from buttons: Follow on a card, Unfollow from the list or App Home, the digest switch, and a reminder's
Snooze and Done — each as the clicker, once per click."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bench.fakes import Call, FakeSlackApi
from bot.blocks.values import decode_value
from bot.commands import PersonRef
from bot.identity import SlackUser
from bot.ids import Action
from bot.reminders import REMINDER
from tests.harness import AppHarness

ADA = "ada.lovelace@analytical-engines.example"
GRACE = "grace.hopper@cobol-systems.example"


def _home_opened(user: SlackUser) -> dict[str, str]:
    return {"type": "app_home_opened", "user": user.user_id, "channel": f"D{user.user_id}", "tab": "home"}


async def _card(harness: AppHarness, user: SlackUser) -> Call:
    mark = harness.slack.mark()
    await harness.command(user, f"overview {ADA}")
    return await harness.slack.wait_for("response_url", lambda call: call.contains("Ada Lovelace"), since=mark)


async def _follow(harness: AppHarness, user: SlackUser, email: str) -> None:
    person = harness.crm_person(user, email)
    await harness.services.follows.follow_person(user, PersonRef(person.id, credential_id=harness.crm_account(user)))


async def _followed_names(harness: AppHarness, user: SlackUser) -> list[str]:
    return [person.name for person in (await harness.services.follows.following(user)).people]


async def test_follow_on_a_card_follows_them_and_the_card_offers_unfollow(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    card = await _card(app_harness, user)
    assert Action.PERSON_FOLLOW in card.action_ids and Action.PERSON_UNFOLLOW not in card.action_ids
    mark = app_harness.slack.mark()

    await app_harness.click(user, card, Action.PERSON_FOLLOW)
    await app_harness.click(user, card, Action.PERSON_FOLLOW)  # a double click follows once, and answers once
    await app_harness.settle()

    redrawn, answer = app_harness.slack.calls_to("response_url", since=mark)
    # The card itself now offers Unfollow; the answer beside it says what following does.
    assert redrawn.args["replace_original"] is True and redrawn.contains("Ada Lovelace")
    assert Action.PERSON_UNFOLLOW in redrawn.action_ids and Action.PERSON_FOLLOW not in redrawn.action_ids
    assert answer.args["response_type"] == "ephemeral" and answer.contains("Following")
    assert await _followed_names(app_harness, user) == ["Ada Lovelace"]
    again = await _card(app_harness, user)
    assert Action.PERSON_UNFOLLOW in again.action_ids and Action.PERSON_FOLLOW not in again.action_ids
    assert decode_value(again.button(Action.PERSON_UNFOLLOW)["value"]) == {
        "p": app_harness.crm_person(user, ADA).id,
        "c": app_harness.crm_account(user),
        "k": "1",
    }


async def test_follow_without_a_crm_sends_the_connect_link(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    card = await _card(app_harness, user)
    app_harness.sandbox.crm.set_accounts(user.default_subject, [])  # disconnected since the card was shown
    mark = app_harness.slack.mark()

    await app_harness.click(user, card, Action.PERSON_FOLLOW)
    await app_harness.settle()

    dm = await app_harness.slack.wait_for("chat.postMessage", since=mark)
    assert dm.args["channel"] == FakeSlackApi.dm_channel(user.user_id) and Action.CONNECT_OPEN in dm.action_ids
    assert await _followed_names(app_harness, user) == []


async def test_unfollow_on_a_card_redraws_it_and_answers_beside_it(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    await _follow(app_harness, user, ADA)
    card = await _card(app_harness, user)
    mark = app_harness.slack.mark()

    await app_harness.click(user, card, Action.PERSON_UNFOLLOW)
    await app_harness.settle()

    redrawn, answer = app_harness.slack.calls_to("response_url", since=mark)
    assert redrawn.args["replace_original"] is True and Action.PERSON_FOLLOW in redrawn.action_ids
    assert answer.args["response_type"] == "ephemeral" and answer.contains("You no longer follow")
    assert await _followed_names(app_harness, user) == []


async def test_unfollow_in_the_list_replaces_the_list_without_them(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    await _follow(app_harness, user, ADA)
    await _follow(app_harness, user, GRACE)
    await app_harness.command(user, "following")
    listed = await app_harness.slack.wait_for("response_url", lambda call: call.contains("You follow 2 people"))
    ada = next(
        element["value"]
        for element in listed.elements()
        if element["action_id"] == Action.PERSON_UNFOLLOW
        and decode_value(element["value"])["p"] == app_harness.crm_person(user, ADA).id
    )
    mark = app_harness.slack.mark()

    await app_harness.click(user, listed, Action.PERSON_UNFOLLOW, value=ada)
    await app_harness.settle()

    (replaced,) = app_harness.slack.calls_to("response_url", since=mark)
    assert replaced.args["replace_original"] is True
    assert replaced.contains("You follow 1 person") and replaced.contains("Grace Hopper")
    assert not replaced.contains("Ada Lovelace")
    assert await _followed_names(app_harness, user) == ["Grace Hopper"]


async def test_the_digest_switch_in_the_list_replaces_it_with_the_other_state(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    await _follow(app_harness, user, ADA)
    await app_harness.command(user, "following")
    listed = await app_harness.slack.wait_for("response_url", lambda call: call.contains("You follow 1 person"))
    assert listed.button(Action.DIGEST_SWITCH)["value"] == "off"
    mark = app_harness.slack.mark()

    await app_harness.click(user, listed, Action.DIGEST_SWITCH)
    await app_harness.settle()

    (replaced,) = app_harness.slack.calls_to("response_url", since=mark)
    assert replaced.args["replace_original"] is True and replaced.contains("Ada Lovelace")
    assert replaced.button(Action.DIGEST_SWITCH)["value"] == "on"
    assert not (await app_harness.services.store.digest_settings.get(user)).enabled


async def test_on_home_the_digest_switch_and_unfollow_publish_home_again(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    await _follow(app_harness, user, ADA)
    await app_harness.event(_home_opened(user))
    home = await app_harness.slack.wait_for("views.publish")
    assert home.contains("Ada Lovelace") and home.button(Action.DIGEST_SWITCH)["value"] == "off"
    mark = app_harness.slack.mark()

    await app_harness.click(user, home, Action.DIGEST_SWITCH)
    switched = await app_harness.slack.wait_for("views.publish", since=mark)
    await app_harness.settle()

    assert switched.args["user_id"] == user.user_id
    assert switched.button(Action.DIGEST_SWITCH)["value"] == "on" and switched.contains("*off*")
    assert not (await app_harness.services.store.digest_settings.get(user)).enabled
    mark = app_harness.slack.mark()

    await app_harness.click(user, switched, Action.PERSON_UNFOLLOW)
    unfollowed = await app_harness.slack.wait_for("views.publish", since=mark)
    await app_harness.settle()

    assert not unfollowed.contains("Ada Lovelace") and unfollowed.contains("People you follow")
    assert await _followed_names(app_harness, user) == []
    assert not app_harness.slack.calls_to("chat.postMessage", since=mark)  # Home is refreshed, not answered by DM


# ---- reminders ------------------------------------------------------------------------------------------------------


async def _reminder(harness: AppHarness, user: SlackUser) -> Call:
    """A task created through the bot, falling due: its reminder DM, as the scheduler sends it."""
    due = (date.today() + timedelta(days=3)).isoformat()
    await harness.command(user, f"task {ADA} Send the proposal due {due}")
    await harness.settle()
    (job,) = await harness.services.store.schedule.pending(user, REMINDER)
    mark = harness.slack.mark()
    await harness.services.store.schedule.later(job.key, datetime.now(UTC) - timedelta(seconds=1))
    await harness.services.scheduler.round()
    return await harness.slack.wait_for(
        "chat.postMessage", lambda call: call.args["channel"] == FakeSlackApi.dm_channel(user.user_id), since=mark
    )


async def test_snooze_clicked_twice_snoozes_once_and_replaces_the_reminder(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    reminder = await _reminder(app_harness, user)
    assert reminder.contains("Send the proposal")
    mark = app_harness.slack.mark()

    await app_harness.click(user, reminder, Action.REMINDER_SNOOZE)
    await app_harness.click(user, reminder, Action.REMINDER_SNOOZE)
    await app_harness.settle()

    (replaced,) = app_harness.slack.calls_to("response_url", since=mark)
    assert replaced.args["replace_original"] is True and replaced.contains("Snoozed")
    (snoozed,) = await app_harness.services.store.schedule.pending(user, REMINDER)
    assert snoozed.due_at > datetime.now(UTC) + timedelta(hours=23)


async def test_done_dismisses_and_says_rollout_cannot_close_the_task(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    reminder = await _reminder(app_harness, user)
    mark = app_harness.slack.mark()

    await app_harness.click(user, reminder, Action.REMINDER_DONE)
    await app_harness.settle()

    (replaced,) = app_harness.slack.calls_to("response_url", since=mark)
    assert replaced.args["replace_original"] is True
    assert replaced.contains("Rollout can't close tasks from Slack")
    assert await app_harness.services.store.schedule.pending(user, REMINDER) == []


async def test_someone_elses_click_on_a_reminder_changes_nothing(app_harness: AppHarness) -> None:
    owner = app_harness.new_user()
    reminder = await _reminder(app_harness, owner)
    stranger = app_harness.new_user()
    mark = app_harness.slack.mark()

    await app_harness.click(stranger, reminder, Action.REMINDER_SNOOZE)
    await app_harness.settle()

    (answer,) = app_harness.slack.calls_to("response_url", since=mark)
    assert answer.contains("no longer kept")
    assert await app_harness.services.store.schedule.pending(owner, REMINDER) == []
    assert await app_harness.services.store.schedule.pending(stranger, REMINDER) == []
    mark = app_harness.slack.mark()

    await app_harness.click(owner, reminder, Action.REMINDER_SNOOZE)  # still the owner's to snooze
    await app_harness.settle()

    (snoozed,) = app_harness.slack.calls_to("response_url", since=mark)
    assert snoozed.contains("Snoozed")
    assert len(await app_harness.services.store.schedule.pending(owner, REMINDER)) == 1
