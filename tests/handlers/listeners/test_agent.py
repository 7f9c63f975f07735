"""The agent through Slack: signed events and clicks into the running app, the fake model, the sandbox, fake Slack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from slack_sdk.web.async_client import AsyncWebClient

from bench.fakes.anthropic_api import Fail, FakeAnthropic, Reply, ToolCall
from bot.blocks.approvals import STATUS_LINES
from bot.blocks.fields import approval_field
from bot.blocks.messages import USER_MESSAGES
from bot.ids import Action, View
from handlers.slack.agent_output import answer_command
from handlers.slack.replies import Reply as SlackReply
from tests.harness import BOT_TOKEN, CHANNEL_ID, AppHarness, start_app_harness
from tests.scenarios import ADA, mention, overview_then, propose
from tests.scenarios import llm_settings as _llm


def answer_of(agent_harness: AppHarness, text: str) -> Any:
    """The call that completed an answer showing `text` (a stream's stop, or an update of the placeholder)."""
    return agent_harness.slack.wait_for_answer(text)


# ---- mentions ------------------------------------------------------------------------------------------------


async def test_a_mention_is_answered_in_its_thread_with_progress_and_a_person_card(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user()
    model.script(*overview_then("**Ada** is Head of Research."))
    event = mention(user, "what's new with Ada?")

    await agent_harness.event(event)

    answer = await answer_of(agent_harness, "is Head of Research")
    (started,) = agent_harness.slack.calls_to("chat.startStream")
    assert started.args["thread_ts"] == event["ts"] and started.args["recipient_user_id"] == user.user_id
    assert answer.args["ts"] == started.response["ts"]  # one streamed message
    assert (
        agent_harness.slack.stream_text(answer.args["ts"]) == "**Ada** is Head of Research."
    )  # Slack renders Markdown
    steps = [c for c in agent_harness.slack.stream_chunks(answer.args["ts"]) if c["type"] == "task_update"]
    assert [s["status"] for s in steps] == ["in_progress", "complete"] and "Looking up" in steps[0]["title"]
    # The card is for the asker alone (tests/agent/test_agent_cards.py: sharing it).
    card = await agent_harness.slack.wait_for(
        "chat.postEphemeral", lambda call: Action.PERSON_ADD_NOTE in call.action_ids
    )
    assert card.args["thread_ts"] == event["ts"] and card.contains("Analytical Engines Ltd")
    assert model.requests[0].messages[0]["content"][0]["text"] == "what's new with Ada?"  # no bot mention


async def test_a_retried_event_is_answered_once(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    user = agent_harness.new_user()
    model.script(Reply(text="Once."), Reply(text="Twice?!"))
    event = mention(user, "hello")

    await agent_harness.event(event, event_id="EvRETRY1")
    await agent_harness.event(event, event_id="EvRETRY1")  # Slack's retry carries the same event_id
    await agent_harness.event(event, event_id="EvRETRY1")
    await answer_of(agent_harness, "Once.")
    await agent_harness.settle()

    assert len(model.requests) == 1 and model.unused == 1
    assert len(agent_harness.slack.calls_to("chat.startStream")) == 1


async def test_the_bots_own_messages_and_edits_are_ignored(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    user = agent_harness.new_user()
    bot_post = {**mention(user, "echo"), "bot_id": "B0BOT"}
    edit = {**mention(user, "edited"), "type": "message", "subtype": "message_changed", "channel_type": "im"}

    await agent_harness.event(bot_post)
    await agent_harness.event(edit)
    await agent_harness.settle()

    assert model.requests == [] and agent_harness.slack.calls == []


async def test_a_thread_remembers_earlier_mentions(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    user = agent_harness.new_user()
    first = mention(user, "who is Ada Lovelace?")
    model.script(*overview_then("Head of Research."))
    await agent_harness.event(first)
    await answer_of(agent_harness, "Head of Research.")
    await agent_harness.settle()

    model.script(Reply(text="Analytical Engines Ltd."))
    await agent_harness.event(mention(user, "which company again?", thread_ts=first["ts"]))
    await answer_of(agent_harness, "Analytical Engines Ltd.")

    remembered = model.requests[-1].messages
    assert remembered[0]["content"][0]["text"] == "who is Ada Lovelace?"
    assert "Head of Research." in json.dumps(remembered) and len(remembered) == 5


async def test_a_thread_continues_after_a_restart(
    tmp_path: Path, model: FakeAnthropic, model_server: FakeAnthropic
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}"
    settings = {**_llm(model_server), "encryption_key": Fernet.generate_key().decode()}
    async with start_app_harness(database_url=database, **settings) as before:
        user = before.new_user()
        first = mention(user, "remember the word 'pineapple'")
        model.script(Reply(text="Noted: pineapple."))
        await before.event(first)
        await before.slack.wait_for_answer("pineapple")
        await before.settle()

    async with start_app_harness(database_url=database, **settings) as after:
        model.script(Reply(text="You said pineapple."))
        await after.event(mention(user, "what was the word?", thread_ts=first["ts"]))
        await after.slack.wait_for_answer("You said pineapple.")
        await after.settle()

    assert "Noted: pineapple." in json.dumps(model.requests[-1].messages)


async def test_a_busy_model_gets_a_try_again_message_not_a_stuck_placeholder(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    model.script(*[Fail(529, "overloaded_error")] * 4)

    await agent_harness.event(mention(agent_harness.new_user(), "hello"))

    final = await answer_of(agent_harness, "busy")
    assert USER_MESSAGES["llm_rate_limited"] in agent_harness.slack.stream_text(final.args["ts"])


async def test_several_crm_accounts_get_the_same_picker_as_slash_commands(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user(accounts=["hubspot", "salesforce"])
    model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)))

    await agent_harness.event(mention(user, "Ada?"))

    picker = await agent_harness.slack.wait_for(
        "chat.postEphemeral", lambda call: Action.CREDENTIAL_CHOOSE in call.action_ids
    )
    assert picker.args["user"] == user.user_id
    await answer_of(agent_harness, "pick one below")


async def test_no_crm_connected_sends_the_link_by_dm_only(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    user = agent_harness.new_user(accounts=[])
    model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)))

    await agent_harness.event(mention(user, "Ada?"))

    dm = await agent_harness.slack.wait_for("chat.postMessage", lambda call: Action.CONNECT_OPEN in call.action_ids)
    assert dm.args["channel"] == agent_harness.slack.dm_channel(user.user_id)
    await answer_of(agent_harness, "sent you a link")
    await agent_harness.settle()
    in_channel = [c for c in agent_harness.slack.calls if c.args.get("channel") == CHANNEL_ID]
    assert not any(c.contains("/mcp/credentials/") for c in in_channel)


async def test_when_the_dm_with_the_link_fails_no_answer_carries_it(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user(accounts=[])
    model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)))
    agent_harness.slack.fail_next("conversations.open", status=200, error="cannot_dm_bot")

    await agent_harness.event(mention(user, "Ada?"))
    await agent_harness.slack.wait_for("conversations.open")
    await agent_harness.settle()

    assert [c.ok for c in agent_harness.slack.calls_to("conversations.open")] == [False]
    assert not any(c.contains("/mcp/credentials/") for c in agent_harness.slack.calls)
    assert not any(Action.CONNECT_OPEN in c.action_ids for c in agent_harness.slack.calls)
    # Nor does the answer say a DM was sent: it says how to get the link.
    answers = [c for c in agent_harness.slack.calls_to("chat.stopStream") if c.ok]
    shown = " ".join(agent_harness.slack.stream_text(str(c.args.get("ts"))) for c in answers)
    assert "sent you a link" not in shown and "/rollout connect" in shown


# ---- approvals -----------------------------------------------------------------------------------------------


async def test_approve_writes_once_and_the_agent_reports_back(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    user = agent_harness.new_user()
    ada = agent_harness.crm_person(user, ADA)
    before = len(agent_harness.crm_tasks(user, ada))
    card = await propose(agent_harness, model, user)
    assert card.contains("Create task “Call Ada” due 2026-12-04 for Ada Lovelace")
    assert card.args["user"] == user.user_id  # it names a person from the CRM: for its requester alone
    assert not [c for c in agent_harness.slack.calls_to("chat.postMessage") if Action.APPROVAL_APPROVE in c.action_ids]
    assert len(agent_harness.crm_tasks(user, ada)) == before

    stranger = agent_harness.new_user()
    mark = agent_harness.slack.mark()
    await agent_harness.click(stranger, card, Action.APPROVAL_APPROVE)
    # (The card is the requester's alone; a forged click from someone else is answered to them, through the click.)
    refusal = await agent_harness.slack.wait_for("response_url", since=mark)
    assert refusal.args["response_type"] == "ephemeral" and refusal.contains("someone else")
    await agent_harness.settle()
    assert len(agent_harness.crm_tasks(user, ada)) == before

    model.script(Reply(text="Task created for Friday."))
    await agent_harness.click(user, card, Action.APPROVAL_APPROVE)
    await agent_harness.click(user, card, Action.APPROVAL_APPROVE)  # a double click
    done = await agent_harness.slack.wait_for(
        "response_url", lambda call: call.contains(STATUS_LINES["done"]), since=mark
    )
    assert done.args["replace_original"] is True and Action.APPROVAL_APPROVE not in done.action_ids
    await answer_of(agent_harness, "Task created for Friday.")
    await agent_harness.settle()
    tasks = agent_harness.crm_tasks(user, ada)
    assert len(tasks) == before + 1 and tasks[-1].title == "Call Ada"


async def test_the_report_after_an_approved_write_goes_into_the_mentions_thread(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user()
    card = await propose(agent_harness, model, user)
    thread_ts = card.args["thread_ts"]
    mark = agent_harness.slack.mark()

    model.script(Reply(text="Task created for Friday."))
    await agent_harness.click(user, card, Action.APPROVAL_APPROVE)
    await agent_harness.slack.wait_for("response_url", lambda call: call.contains(STATUS_LINES["done"]), since=mark)
    await agent_harness.settle()

    # The conversation is keyed per person ("<thread ts>/<user>"); Slack only knows the thread's own ts.
    answer_methods = ("chat.postMessage", "chat.startStream")
    report = [c for c in agent_harness.slack.calls[mark:] if c.method in answer_methods]
    assert report and all(c.args["thread_ts"] == thread_ts for c in report)
    assert all("/" not in str(c.args["thread_ts"]) for c in report)


async def test_cancel_writes_nothing(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    user = agent_harness.new_user()
    ada = agent_harness.crm_person(user, ADA)
    before = len(agent_harness.crm_tasks(user, ada))
    card = await propose(agent_harness, model, user)
    requests = len(model.requests)

    await agent_harness.click(user, card, Action.APPROVAL_CANCEL)

    cancelled = await agent_harness.slack.wait_for(
        "response_url", lambda call: call.contains(STATUS_LINES["cancelled"])
    )
    assert cancelled.args["replace_original"] is True  # the card itself, where its requester sees it
    await agent_harness.settle()
    await agent_harness.click(user, card, Action.APPROVAL_APPROVE)  # too late: already cancelled
    await agent_harness.settle()
    assert len(agent_harness.crm_tasks(user, ada)) == before
    assert len(model.requests) == requests  # a cancel needs no model call


async def test_edit_then_approve_writes_the_edited_values(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    user = agent_harness.new_user()
    ada = agent_harness.crm_person(user, ADA)
    card = await propose(agent_harness, model, user)

    await agent_harness.click(user, card, Action.APPROVAL_EDIT)
    modal = await agent_harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.APPROVAL_EDIT_SUBMIT
    await agent_harness.submit(user, modal, {approval_field("title"): "Call Ada about pricing"})
    updated = await agent_harness.slack.wait_for("response_url", lambda call: call.contains("about pricing"))
    assert Action.APPROVAL_APPROVE in updated.action_ids  # still waiting for the click

    model.script(Reply(text="Done."))
    await agent_harness.click(user, card, Action.APPROVAL_APPROVE)
    await agent_harness.slack.wait_for("response_url", lambda call: call.contains(STATUS_LINES["done"]))
    await agent_harness.settle()
    assert agent_harness.crm_tasks(user, ada)[-1].title == "Call Ada about pricing"


# ---- /rollout <free text> ------------------------------------------------------------------------------------


async def test_a_free_text_command_is_answered_privately(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    user = agent_harness.new_user()
    model.script(*overview_then("Ada is at Analytical Engines."))
    client = AsyncWebClient(token=BOT_TOKEN, base_url=agent_harness.slack.base_url)
    reply = SlackReply(client, user, channel_id=CHANNEL_ID, response_url=agent_harness.slack.new_response_url())

    await answer_command("what's new with Ada?", reply, agent_harness.services)

    posts = agent_harness.slack.calls_to("response_url")
    assert posts[0].contains("Thinking") and posts[0].args["response_type"] == "ephemeral"
    assert posts[1].args["replace_original"] is True and posts[1].contains("Ada is at Analytical Engines.")
    assert all(p.args["response_type"] == "ephemeral" for p in posts)


async def test_without_an_api_key_free_text_explains_what_to_configure(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    assert app_harness.services.agent is None

    await app_harness.event(mention(user, "what's new with Ada?"))

    told = await app_harness.slack.wait_for("chat.postEphemeral")
    assert told.args["user"] == user.user_id and told.contains("ANTHROPIC_API_KEY")
