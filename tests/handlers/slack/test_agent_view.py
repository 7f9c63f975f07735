"""Slack's Agent messaging experience: the Messages tab's prompts, threads in the DM, the channel being looked at."""

from __future__ import annotations

import uuid
from typing import Any

from bench.fakes.anthropic_api import FakeAnthropic, Reply
from bot.identity import SlackUser
from handlers.slack.agent_view import SUGGESTED_PROMPTS
from tests.harness import AppHarness
from tests.scenarios import overview_then


def _dm(agent_harness: AppHarness, user: SlackUser, text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
    ts = f"1700005000.{uuid.uuid4().int % 10**6:06d}"
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": agent_harness.slack.dm_channel(user.user_id),
        "user": user.user_id,
        "text": text,
        "ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def _context_changed(user: SlackUser, channel: str) -> dict[str, Any]:
    entity = {"type": "slack#/types/channel_id", "value": channel, "team_id": user.team_id}
    return {"type": "app_context_changed", "user": user.user_id, "context": {"entities": [entity]}}


async def test_opening_the_messages_tab_shows_the_prompts_without_a_thread(agent_harness: AppHarness) -> None:
    user = agent_harness.new_user()
    dm = agent_harness.slack.dm_channel(user.user_id)
    opened = {"type": "app_home_opened", "user": user.user_id, "channel": dm, "tab": "messages", "event_ts": "1.2"}

    await agent_harness.event(opened, event_id="EvMSGTAB1")
    await agent_harness.event(opened, event_id="EvMSGTAB1")  # Slack's retry
    await agent_harness.settle()

    (prompts,) = agent_harness.slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert prompts.args["channel_id"] == dm and "thread_ts" not in prompts.args  # agent apps: no thread_ts
    assert prompts.args["prompts"] == list(SUGGESTED_PROMPTS)
    assert not agent_harness.slack.calls_to("views.publish")  # the Home tab is not published for the Messages tab


async def test_the_home_tab_still_publishes_the_home(agent_harness: AppHarness) -> None:
    user = agent_harness.new_user()

    await agent_harness.event({"type": "app_home_opened", "user": user.user_id, "channel": "D1", "tab": "home"})

    home = await agent_harness.slack.wait_for("views.publish")
    assert home.args["user_id"] == user.user_id and not agent_harness.slack.calls_to(
        "assistant.threads.setSuggestedPrompts"
    )


async def test_a_top_level_dm_starts_a_thread_answered_in_it_and_a_reply_continues_it(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user()
    first = _dm(agent_harness, user, "what's new with Ada?")
    model.script(*overview_then("Ada leads research."))

    await agent_harness.event(first)

    answer = await agent_harness.slack.wait_for_answer("Ada leads research.")
    (started,) = agent_harness.slack.calls_to("chat.startStream")
    assert started.args["thread_ts"] == first["ts"] and started.args["channel"] == first["channel"]
    await agent_harness.settle()

    model.script(Reply(text="Analytical Engines Ltd."))
    await agent_harness.event(_dm(agent_harness, user, "which company?", thread_ts=first["ts"]))
    await agent_harness.slack.wait_for_answer("Analytical Engines Ltd.", since=answer.seq)
    assert "Ada leads research." in model.requests[-1].text()  # the thread's memory


async def test_the_channel_being_looked_at_is_context_for_the_next_message(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user()
    agent_harness.slack.channel_names["C0ACMEDEAL"] = "acme-deal"
    model.script(Reply(text="That's Acme."), Reply(text="No channel now."))

    await agent_harness.event(_context_changed(user, "C0ACMEDEAL"))
    await agent_harness.event(_dm(agent_harness, user, "who is this channel's customer?"))
    await agent_harness.slack.wait_for_answer("That's Acme.")
    await agent_harness.settle()

    words = model.requests[-1].messages[0]["content"][-1]["text"]
    assert "#acme-deal" in words and words.endswith("who is this channel's customer?")

    await agent_harness.event(
        {**_context_changed(user, "C0ACMEDEAL"), "context": {}}
    )  # looking at nothing in particular
    await agent_harness.event(_dm(agent_harness, user, "and now?"))
    await agent_harness.slack.wait_for_answer("No channel now.")
    assert model.requests[-1].messages[0]["content"][-1]["text"] == "and now?"


async def test_another_persons_channel_is_not_their_context(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    alice, bob = agent_harness.new_user(), agent_harness.new_user()
    model.script(Reply(text="Hello Bob."))

    await agent_harness.event(_context_changed(alice, "C0SECRET"))
    await agent_harness.event(_dm(agent_harness, bob, "hi"))
    await agent_harness.slack.wait_for_answer("Hello Bob.")

    assert "C0SECRET" not in model.requests[-1].text()
