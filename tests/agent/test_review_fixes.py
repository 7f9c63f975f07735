"""Fixes found in review, each pinned by a test that failed before the fix."""

from __future__ import annotations

from bench.fakes.anthropic_api import FakeAnthropic, Reply
from bot.blocks.approvals import STATUS_LINES
from bot.ids import Action
from tests.harness import AppHarness
from tests.scenarios import propose

_ANSWER_METHODS = ("chat.postMessage", "chat.startStream")


async def test_the_report_after_an_approved_write_goes_into_the_mentions_thread(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user()
    card = await propose(agent_harness, model, user)
    thread_ts = card.args["thread_ts"]
    mark = agent_harness.slack.mark()

    model.script(Reply(text="Task created for Friday."))
    await agent_harness.click(user, card, Action.APPROVAL_APPROVE)
    await agent_harness.slack.wait_for("chat.update", lambda call: call.contains(STATUS_LINES["done"]), since=mark)
    await agent_harness.settle()

    # The conversation is keyed per person ("<thread ts>/<user>"); Slack only knows the thread's own ts.
    report = [c for c in agent_harness.slack.calls[mark:] if c.method in _ANSWER_METHODS]
    assert report and all(c.args["thread_ts"] == thread_ts for c in report)
    assert all("/" not in str(c.args["thread_ts"]) for c in report)
