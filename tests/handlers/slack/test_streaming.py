"""Answers streamed into Slack: tool steps as tasks, batched appends, feedback buttons, and the one fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall
from bot.blocks.messages import stopped_early_note
from bot.identity import SlackUser
from bot.ids import Action
from bot.metrics import REGISTRY
from handlers.slack.streaming import MARKDOWN_CHUNK, WAITING_FOR_APPROVAL, AnswerStream
from tests.harness import BOT_TOKEN, CHANNEL_ID, AppHarness, block_actions, start_app_harness
from tests.scenarios import ADA, llm_settings, mention, overview_then, propose


def _steps(agent_harness: AppHarness, ts: str) -> list[tuple[str, str]]:
    return [(c["id"], c["status"]) for c in agent_harness.slack.stream_chunks(ts) if c["type"] == "task_update"]


async def test_each_tool_step_is_a_task_that_runs_then_completes_before_the_answer(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user()
    model.script(
        Reply(text="Let me look.", tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)),
        Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Grace Hopper"}),)),
        Reply(text="Both found."),
    )

    await agent_harness.event(mention(user, "Ada and Grace?"))

    stop = await agent_harness.slack.wait_for_answer("Both found.")
    ts = stop.args["ts"]
    assert _steps(agent_harness, ts) == [
        ("step-1", "in_progress"),
        ("step-1", "complete"),
        ("step-2", "in_progress"),
        ("step-2", "complete"),
    ]
    assert agent_harness.slack.stream_text(ts) == "Let me look.\n\nBoth found."
    chunks = agent_harness.slack.stream_chunks(ts)
    last_step = max(i for i, c in enumerate(chunks) if c["type"] == "task_update")
    assert chunks[-1]["type"] == "markdown_text" and last_step < len(chunks) - 1  # the answer comes after the steps
    assert [b["type"] for b in stop.args["blocks"]] == ["context_actions"]  # feedback buttons under the answer
    assert stop.args["blocks"][0]["elements"][0]["action_id"] == Action.ANSWER_FEEDBACK


async def test_a_proposed_write_ends_the_stream_waiting_for_approval(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user()

    card = await propose(agent_harness, model, user)

    (stop,) = agent_harness.slack.calls_to("chat.stopStream")
    tasks = [c for c in agent_harness.slack.stream_chunks(stop.args["ts"]) if c["type"] == "task_update"]
    assert tasks[-1]["title"] == WAITING_FOR_APPROVAL and tasks[-1]["status"] == "pending"
    assert card.seq > stop.seq  # the card follows the finished answer
    (start,) = agent_harness.slack.calls_to("chat.startStream")
    assert card.args["user"] == user.user_id and card.args["thread_ts"] == start.args["thread_ts"]  # its asker's


async def test_model_text_cannot_mention_anyone_in_a_stream(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    model.script(Reply(text="Hey <!channel> and <@U0BOSS>!"))

    await agent_harness.event(mention(agent_harness.new_user(), "shout"))

    stop = await agent_harness.slack.wait_for("chat.stopStream")
    text = agent_harness.slack.stream_text(stop.args["ts"])
    assert "<!channel>" not in text and "<@U0BOSS>" not in text and "channel>" in text


async def test_when_slack_refuses_the_stream_the_answer_updates_a_placeholder(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    agent_harness.slack.fail_next("chat.startStream", status=200, error="channel_type_not_supported")
    model.script(*overview_then("Ada leads research."))
    event = mention(agent_harness.new_user(), "Ada?")

    await agent_harness.event(event)

    answer = await agent_harness.slack.wait_for_answer("Ada leads research.")
    placeholder = next(c for c in agent_harness.slack.calls_to("chat.postMessage") if c.contains("Thinking"))
    assert answer.method == "chat.update" and answer.args["ts"] == placeholder.response["ts"]
    assert placeholder.args["thread_ts"] == event["ts"] and placeholder.args["unfurl_links"] is False
    assert answer.blocks[-1]["type"] == "context_actions"  # feedback buttons here too
    assert not agent_harness.slack.calls_to("chat.appendStream")


async def test_when_slack_drops_the_stream_midway_the_whole_answer_replaces_it(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    agent_harness.slack.fail_next("chat.stopStream", status=200, error="message_not_in_streaming_state")
    model.script(Reply(text="Complete answer."))

    await agent_harness.event(mention(agent_harness.new_user(), "hi"))

    answer = await agent_harness.slack.wait_for_answer("Complete answer.")
    assert answer.method == "chat.update"
    assert answer.args["ts"] == agent_harness.slack.calls_to("chat.startStream")[0].response["ts"]


async def test_an_answer_that_cannot_replace_its_placeholder_is_posted_without_previews(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    agent_harness.slack.fail_next("chat.startStream", status=200, error="channel_type_not_supported")
    for _ in range(5):  # every chat.update fails: progress and the final answer alike
        agent_harness.slack.fail_next("chat.update", status=200, error="cant_update_message")
    model.script(Reply(text="See https://example.com/report for details."))
    event = mention(agent_harness.new_user(), "report?")

    await agent_harness.event(event)
    await agent_harness.settle()

    (posted,) = [c for c in agent_harness.slack.calls_to("chat.postMessage") if c.contains("example.com/report")]
    assert posted.args["thread_ts"] == event["ts"]
    assert posted.args["unfurl_links"] is False and posted.args["unfurl_media"] is False


async def test_a_feedback_click_is_recorded_with_the_answer_once(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user()
    model.script(Reply(text="An answer."))
    await agent_harness.event(mention(user, "hi"))
    stop = await agent_harness.slack.wait_for_answer("An answer.")

    counted = _feedback_count("not_helpful")
    click = _feedback_click(agent_harness, user, stop.args["ts"], "not_helpful")
    await agent_harness.interaction(click)
    await agent_harness.interaction(click)  # a double click
    await agent_harness.settle()

    recent = await agent_harness.services.store.activity.recent(user)
    assert [entry.text for entry in recent] == [f"Rated an answer not helpful ({CHANNEL_ID}/{stop.args['ts']})"]
    assert _feedback_count("not_helpful") == counted + 1  # once, in the metrics


def _feedback_count(verdict: str) -> float:
    return REGISTRY.get_sample_value("rollout_bot_answer_feedback_total", {"verdict": verdict}) or 0.0


def _feedback_click(agent_harness: AppHarness, user: SlackUser, ts: str, value: str) -> dict[str, Any]:
    action = {
        "type": "feedback_buttons",
        "action_id": Action.ANSWER_FEEDBACK.value,
        "block_id": "feedback",
        "value": value,
    }
    message = {"type": "message", "ts": ts, "text": "An answer."}
    return block_actions(agent_harness, user, action, message_ts=ts, ephemeral=False, message=message)


# ---- rate limits -------------------------------------------------------------------------------------------------

TURN_SECONDS = 1.5


@pytest.fixture(scope="module")
async def short_turns(
    tmp_path_factory: pytest.TempPathFactory, model_server: FakeAnthropic
) -> AsyncIterator[AppHarness]:
    database = tmp_path_factory.mktemp("short-turns") / "app.db"
    settings = {**llm_settings(model_server), "agent_timeout_seconds": TURN_SECONDS}
    async with start_app_harness(database_url=f"sqlite+aiosqlite:///{database}", **settings) as agent_harness:
        yield agent_harness


async def test_a_rate_limited_append_waits_outside_the_agents_time_budget(
    short_turns: AppHarness, model: FakeAnthropic
) -> None:
    agent_harness = short_turns
    agent_harness.slack.clear()
    # Slack asks for a wait longer than the whole turn may take: the turn must not spend its budget on it.
    agent_harness.slack.fail_next("chat.appendStream", retry_after=2)
    model.script(*overview_then("Found Ada."))

    await agent_harness.event(mention(agent_harness.new_user(), "Ada?"))

    stop = await agent_harness.slack.wait_for_answer("Found Ada.", timeout=10)
    await agent_harness.settle()
    appends = agent_harness.slack.calls_to("chat.appendStream")
    assert [a.status for a in appends] == [429, 200]  # the same step, sent again after Retry-After
    assert appends[0].args["chunks"] == appends[1].args["chunks"]
    assert stopped_early_note()[0].to_dict()["elements"][0]["text"] not in str(stop.args.get("blocks"))
    assert _steps(agent_harness, stop.args["ts"]) == [("step-1", "in_progress"), ("step-1", "complete")]


# ---- batching ----------------------------------------------------------------------------------------------------


async def test_text_arriving_faster_than_the_append_interval_goes_out_in_one_piece(agent_harness: AppHarness) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=agent_harness.slack.base_url)
    started = await client.chat_startStream(channel=CHANNEL_ID, thread_ts="1700007000.000001")
    now = 0.0
    # The clock never moves: all of it happens within one append interval.
    stream = AnswerStream(client, CHANNEL_ID, str(started["ts"]), lambda: now, interval=60.0)

    await stream.status("Looking up “Ada” in your CRM…")
    await agent_harness.slack.wait_for("chat.appendStream")  # the first step goes out at once
    words = [f"word{n} " for n in range(200)]
    for count in range(1, len(words) + 1):
        await stream.partial("".join(words[:count]))
        if count % 10 == 0:
            await client.auth_test()  # the event loop runs the writer between deltas, as it does while a model streams
    rest = await stream.close("")

    appends = agent_harness.slack.calls_to("chat.appendStream")
    assert len(appends) == 1  # every word waited for the next interval
    texts = [c["text"] for c in rest if c["type"] == "markdown_text"]
    assert texts == ["".join(words)]  # batched into one chunk for chat.stopStream


async def test_a_streamed_answer_longer_than_one_chunk_arrives_whole(agent_harness: AppHarness) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=agent_harness.slack.base_url)
    started = await client.chat_startStream(channel=CHANNEL_ID, thread_ts="1700007000.000002")
    ts = str(started["ts"])
    stream = AnswerStream(client, CHANNEL_ID, ts, lambda: 0.0, interval=60.0)  # the clock never moves
    answer = "".join(f"Line {n:05d}: the renewal notes go on and on.\n" for n in range(700))  # ~31,500 characters
    assert len(answer) > 2 * MARKDOWN_CHUNK

    await stream.partial(answer[:20_000])  # the first append goes out at once, longer than one chunk
    await agent_harness.slack.wait_for("chat.appendStream")
    for end in range(20_500, len(answer) + 500, 500):  # the rest in small pieces, batched for the stop
        await stream.partial(answer[:end])
    rest = await stream.close("")
    await client.chat_stopStream(channel=CHANNEL_ID, ts=ts, chunks=rest)

    assert agent_harness.slack.stream_text(ts) == answer
    sent = [c for c in agent_harness.slack.stream_chunks(ts) if c["type"] == "markdown_text"]
    assert all(len(c["text"]) <= MARKDOWN_CHUNK for c in sent)  # Slack's limit for one chunk


class _AppendsWhileRateLimited(AsyncWebClient):
    """A web client whose chat.appendStream lets more text arrive while the (refused) call is on the wire."""

    meanwhile: Callable[[], Awaitable[None]] | None = None

    async def chat_appendStream(self, **kwargs: Any) -> Any:
        try:
            return await super().chat_appendStream(**kwargs)
        finally:
            if self.meanwhile is not None:
                arriving, self.meanwhile = self.meanwhile, None
                await arriving()


async def test_text_still_rate_limited_after_the_clients_retries_arrives_once_and_in_order(
    agent_harness: AppHarness,
) -> None:
    client = _AppendsWhileRateLimited(
        token=BOT_TOKEN, base_url=agent_harness.slack.base_url
    )  # no retry handler of its own
    started = await client.chat_startStream(channel=CHANNEL_ID, thread_ts="1700007000.000003")
    ts = str(started["ts"])
    stream = AnswerStream(client, CHANNEL_ID, ts, lambda: 0.0, interval=60.0)
    agent_harness.slack.fail_next("chat.appendStream", status=429, retry_after=30)

    arrived = asyncio.Event()

    async def more_text() -> None:
        await stream.partial("Ada renewed, ")
        arrived.set()

    client.meanwhile = more_text
    await stream.partial("Ada ")
    async with asyncio.timeout(5):
        await arrived.wait()
    assert [c.status for c in agent_harness.slack.calls_to("chat.appendStream")] == [429]
    rest = await stream.close("for two years.")
    await client.chat_stopStream(channel=CHANNEL_ID, ts=ts, chunks=rest)

    assert agent_harness.slack.stream_text(ts) == "Ada renewed, for two years."
