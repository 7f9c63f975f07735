"""A person card is CRM data: it goes to the person who asked, and reaches a channel only when they share it.

Sharing into a channel with people from outside the workspace (Slack Connect) asks once more first; so does a channel
Slack would not describe.
"""

from __future__ import annotations

import asyncio

from bench.fakes import Call
from bot.identity import SlackUser
from bot.ids import Action
from tests.harness import CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"
SHARED_CHANNEL = "C0CONNECT"


async def _private_card(harness: AppHarness, user: SlackUser, *, channel: str = CHANNEL_ID) -> Call:
    mark = harness.slack.mark()
    await harness.command(user, f"overview {ADA}", channel=channel)
    return await harness.slack.wait_for("response_url", lambda call: "Ada Lovelace" in call.text, since=mark)


def _posted_cards(harness: AppHarness, channel: str) -> list[Call]:
    return [
        call
        for call in harness.slack.calls_to("chat.postMessage")
        if call.args.get("channel") == channel and call.contains("Ada Lovelace")
    ]


async def test_the_card_is_shown_to_the_requester_alone_with_a_share_button(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    card = await _private_card(app_harness, user)
    await app_harness.settle()

    assert card.args["response_type"] == "ephemeral"
    assert card.blocks[0]["text"]["text"] == "Ada Lovelace"
    assert card.button(Action.PERSON_SHARE)["text"]["text"] == "Share in channel"
    assert _posted_cards(app_harness, CHANNEL_ID) == []


async def test_share_posts_the_card_once_in_the_channel_without_the_share_button(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    card = await _private_card(app_harness, user)

    await asyncio.gather(*(app_harness.click(user, card, Action.PERSON_SHARE) for _ in range(3)))  # a double click
    await app_harness.settle()

    (posted,) = _posted_cards(app_harness, CHANNEL_ID)
    assert posted.blocks[0]["text"]["text"] == "Ada Lovelace" and posted.contains("Analytical Engines Ltd")
    assert Action.PERSON_SHARE not in posted.action_ids
    assert {Action.PERSON_ADD_NOTE, Action.PERSON_CREATE_TASK} <= set(posted.action_ids)
    assert posted.contains(f"Shared by <@{user.user_id}>")


async def test_sharing_into_a_channel_with_outside_people_asks_first_and_cancel_posts_nothing(
    app_harness: AppHarness,
) -> None:
    app_harness.slack.ext_shared_channels.add(SHARED_CHANNEL)
    user = app_harness.new_user()
    card = await _private_card(app_harness, user, channel=SHARED_CHANNEL)
    mark = app_harness.slack.mark()

    await app_harness.click(user, card, Action.PERSON_SHARE, channel=SHARED_CHANNEL)

    asked = await app_harness.slack.wait_for("response_url", since=mark)
    assert asked.args["response_type"] == "ephemeral"
    assert "people outside your workspace" in asked.text
    assert [b["text"]["text"] for b in asked.elements("button")] == ["Share anyway", "Cancel"]
    await app_harness.click(user, asked, Action.PERSON_SHARE_CANCEL, channel=SHARED_CHANNEL)
    await app_harness.settle()
    assert _posted_cards(app_harness, SHARED_CHANNEL) == []

    await app_harness.click(user, asked, Action.PERSON_SHARE_CONFIRM, channel=SHARED_CHANNEL)
    await app_harness.settle()
    (posted,) = _posted_cards(app_harness, SHARED_CHANNEL)
    assert Action.PERSON_SHARE not in posted.action_ids


async def test_a_channel_slack_will_not_describe_is_treated_as_shared_with_outsiders(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    channel = "C0UNKNOWN"
    app_harness.slack.hidden_channels.add(channel)
    card = await _private_card(app_harness, user, channel=channel)
    mark = app_harness.slack.mark()

    await app_harness.click(user, card, Action.PERSON_SHARE, channel=channel)
    await app_harness.settle()

    asked = await app_harness.slack.wait_for("response_url", since=mark)
    assert "people outside your workspace" in asked.text
    assert _posted_cards(app_harness, channel) == []


async def test_a_card_in_a_dm_offers_no_share(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    card = await _private_card(app_harness, user, channel=app_harness.slack.dm_channel(user.user_id))

    assert Action.PERSON_SHARE not in card.action_ids


async def test_slack_is_asked_about_a_channel_once_for_several_shares(app_harness: AppHarness) -> None:
    channel = "C0ASKEDONCE"
    first, second = app_harness.new_user(), app_harness.new_user()
    for user in (first, second):
        card = await _private_card(app_harness, user, channel=channel)
        await app_harness.click(user, card, Action.PERSON_SHARE, channel=channel)
        await app_harness.settle()

    assert len(_posted_cards(app_harness, channel)) == 2
    asked = [c for c in app_harness.slack.calls_to("conversations.info") if c.args["channel"] == channel]
    assert len(asked) == 1
