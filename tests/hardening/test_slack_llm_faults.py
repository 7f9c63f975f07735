"""Slack's Web API and the model failing, and a restart between a click and its write, seen through Slack.

Covered elsewhere and not repeated here: a 429 on posting (tests/handlers/listeners/test_slash_command.py), a
persistently overloaded model in a mention and in the assistant panel (tests/handlers/listeners/test_agent.py).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.fakes import Call
from bench.fakes.anthropic_api import Fail, FakeAnthropic, Reply, ToolCall
from bot.blocks.approvals import STATUS_LINES
from bot.blocks.messages import USER_MESSAGES
from bot.blocks.values import decode_value
from bot.identity import SlackUser
from bot.ids import Action
from bot.sandbox import CrmPerson
from tests.harness import CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


def mention(user: SlackUser, text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
    ts = f"1700002000.{uuid.uuid4().int % 10**6:06d}"
    event = {"type": "app_mention", "user": user.user_id, "text": f"<@U0BOT> {text}", "ts": ts, "channel": CHANNEL_ID}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def cards_of(harness: AppHarness, *, since: int = 0) -> list[Call]:
    """Person cards that reached Slack, wherever they went."""
    return [
        call
        for call in harness.slack.calls[since:]
        if call.ok
        and Action.PERSON_ADD_NOTE in call.action_ids
        and call.method in ("response_url", "chat.postEphemeral", "chat.postMessage")
    ]


# ---- the Slack Web API failing -----------------------------------------------------------------------------------


async def test_slack_5xx_on_every_way_into_the_channel_still_delivers_the_card_once(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    harness.slack.fail_next("response_url", status=500)
    harness.slack.fail_next("chat.postEphemeral", status=503)

    sent = await harness.command(user, f"overview {ADA}")
    await harness.settle()

    assert sent.status == 200
    (delivered,) = cards_of(harness)
    assert delivered.contains("Ada Lovelace")
    # In the channel (a retried post) or, failing that, in the user's DM with the bot: once either way.
    assert delivered.args.get("channel") in (CHANNEL_ID, harness.slack.dm_channel(user.user_id))


async def test_slack_rate_limiting_the_dm_still_delivers_the_connect_link_once(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user(accounts=[])
    harness.slack.fail_next("chat.postMessage", status=429, retry_after=0)

    await harness.command(user, "connect")
    await harness.settle()

    dms = [c for c in harness.slack.calls_to("chat.postMessage") if c.ok and Action.CONNECT_OPEN in c.action_ids]
    assert len(dms) == 1 and dms[0].args["channel"] == harness.slack.dm_channel(user.user_id)


# ---- the model failing -----------------------------------------------------------------------------------------


async def test_a_rate_limited_model_answers_a_free_text_command_with_a_try_again_message(
    agent_app: AppHarness, model: FakeAnthropic
) -> None:
    harness = agent_app
    user = harness.new_user()
    model.script(*[Fail(429, "rate_limit_error")] * 4)  # the first try and every SDK retry

    await harness.command(user, "what's new with Ada?")
    await harness.settle()

    answers = harness.slack.calls_to("response_url")
    assert answers, "the user heard back"
    assert all(a.args["response_type"] == "ephemeral" for a in answers)
    assert answers[-1].contains(USER_MESSAGES["llm_rate_limited"])
    assert not answers[-1].contains("Thinking")


async def test_a_model_that_does_not_answer_in_time_leaves_no_stuck_placeholder(
    agent_app: AppHarness, model: FakeAnthropic
) -> None:
    harness = agent_app
    user = harness.new_user()
    never = asyncio.Event()
    model.script(*[Reply(text="Too late.", hold=never)] * 4)
    first = mention(user, "hello?")
    try:
        await harness.event(first)
        await harness.settle()

        (stream,) = harness.slack.calls_to("chat.startStream")
        ts = stream.response["ts"]
        assert harness.slack.stream_stopped(ts), "the streamed answer was ended"
        assert "Too late." not in harness.slack.stream_text(ts) and harness.slack.stream_text(ts).strip()
    finally:
        never.set()  # lets the fake finish the held answers

    model.reset()
    model.script(Reply(text="Here now."))
    await harness.event(mention(user, "and now?", thread_ts=first["ts"]))
    await harness.slack.wait_for_answer("Here now.")


# ---- a restart between the click and the write -------------------------------------------------------------------


async def _task_waiting_for_approval(
    harness: AppHarness, model: FakeAnthropic, title: str
) -> tuple[SlackUser, CrmPerson, Call, int]:
    """A mention that ends in an approval card for a task about Ada: the user, Ada, the card, and her tasks before."""
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_tasks(user, ada))
    model.script(
        Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)),
        Reply(tool_calls=(ToolCall("create_task", {"personId": ada.id, "title": title}),)),
    )
    await harness.event(mention(user, f"remind me: {title}"))
    card = await harness.slack.wait_for("chat.postEphemeral", lambda call: Action.APPROVAL_APPROVE in call.action_ids)
    await harness.settle()
    return user, ada, card, before


async def test_an_approval_claimed_by_a_process_that_died_before_writing_is_written_once(
    agent_app: AppHarness, model: FakeAnthropic
) -> None:
    harness = agent_app
    user, ada, card, before = await _task_waiting_for_approval(harness, model, "Send the contract")
    approval_id = decode_value(card.button(Action.APPROVAL_APPROVE)["value"])["a"]
    # Another process took the click (its compare-and-set won) and died before calling Rollout.
    assert await harness.services.store.approvals.transition(
        approval_id, from_status="pending", to_status="approved", now=datetime.now(UTC)
    )

    model.script(Reply(text="Contract task created."), Reply(text="Created twice?!"))
    await harness.click(user, card, Action.APPROVAL_APPROVE)  # nothing happened, so the user clicks again
    await harness.click(user, card, Action.APPROVAL_APPROVE)
    await harness.settle()

    tasks = [t.title for t in harness.crm_tasks(user, ada)]
    assert tasks.count("Send the contract") == 1 and len(tasks) == before + 1, "the approved write was lost or doubled"
    assert await harness.slack.wait_for("response_url", lambda call: call.contains(STATUS_LINES["done"]))


async def test_approve_again_after_rollout_was_down_writes_once_and_every_click_hears_back(
    agent_app: AppHarness, model: FakeAnthropic
) -> None:
    harness = agent_app
    user, ada, card, before = await _task_waiting_for_approval(harness, model, "Send the invoice")

    await harness.services.pool.close()  # Rollout goes down with no session open: the write cannot start
    harness.sandbox.set_failure("500")
    mark = harness.slack.mark()
    try:
        await harness.click(user, card, Action.APPROVAL_APPROVE)
        await harness.settle()
    finally:
        harness.sandbox.set_failure(None)
    retry = await harness.slack.wait_for("response_url", lambda call: call.contains(STATUS_LINES["retry"]), since=mark)
    assert Action.APPROVAL_APPROVE in retry.action_ids and len(harness.crm_tasks(user, ada)) == before

    model.script(Reply(text="Invoice task created."))
    await harness.click(user, card, Action.APPROVAL_APPROVE)  # the same button, clicked again
    await harness.settle()

    assert [t.title for t in harness.crm_tasks(user, ada)].count("Send the invoice") == 1
    assert await harness.slack.wait_for("response_url", lambda call: call.contains(STATUS_LINES["done"]), since=mark)
