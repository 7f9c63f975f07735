"""Person cards the agent shows with an answer follow the cards' rule: in a channel, the asker alone sees them and
may share them into the thread; in the bot's DM they are simply posted there."""

from __future__ import annotations

import uuid
from typing import Any

from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall
from bot.identity import SlackUser
from bot.ids import Action
from tests.harness import CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


def _mention(user: SlackUser, text: str) -> dict[str, Any]:
    ts = f"1700002000.{uuid.uuid4().int % 10**6:06d}"
    return {
        "type": "app_mention",
        "user": user.user_id,
        "text": f"<@U0BOT> {text}",
        "ts": ts,
        "channel": CHANNEL_ID,
        "event_ts": ts,
    }


def _looks_up_ada(model: FakeAnthropic) -> None:
    model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)), Reply(text="Head of Research."))


async def test_a_card_with_an_answer_in_a_channel_is_shown_to_the_asker_and_shared_into_the_thread_once(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    harness = agent_harness
    user = harness.new_user()
    _looks_up_ada(model)
    event = _mention(user, "who is Ada?")

    await harness.event(event)
    await harness.settle()

    (card,) = [c for c in harness.slack.calls if Action.PERSON_ADD_NOTE in c.action_ids]
    assert card.method == "chat.postEphemeral" and card.args["user"] == user.user_id
    assert card.args["channel"] == CHANNEL_ID and card.args["thread_ts"] == event["ts"]
    assert card.contains("Analytical Engines Ltd") and Action.PERSON_SHARE in card.action_ids

    mark = harness.slack.mark()
    await harness.click(user, card, Action.PERSON_SHARE)
    await harness.click(user, card, Action.PERSON_SHARE)
    await harness.settle()

    (shared,) = [c for c in harness.slack.calls_to("chat.postMessage", since=mark) if c.contains("Ada Lovelace")]
    assert shared.args["channel"] == CHANNEL_ID and shared.args["thread_ts"] == event["ts"]
    assert Action.PERSON_SHARE not in shared.action_ids
    assert shared.args["unfurl_links"] is False and shared.args["unfurl_media"] is False


async def test_a_card_with_an_answer_in_the_dm_is_posted_there_without_share(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    harness = agent_harness
    user = harness.new_user()
    _looks_up_ada(model)
    dm = harness.slack.dm_channel(user.user_id)
    ts = f"1700003000.{uuid.uuid4().int % 10**6:06d}"
    event = {"type": "message", "channel_type": "im", "user": user.user_id, "text": "who is Ada?", "ts": ts}

    await harness.event({**event, "channel": dm, "event_ts": ts})
    await harness.settle()

    (card,) = [c for c in harness.slack.calls if Action.PERSON_ADD_NOTE in c.action_ids]
    assert card.method == "chat.postMessage" and card.args["channel"] == dm
    assert Action.PERSON_SHARE not in card.action_ids
