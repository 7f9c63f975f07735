"""Helpful / not helpful under an agent answer: one verdict per person and answer, the last click's, and the metrics
count each person once per answer (bot/feedback.py says how a changed mind is counted)."""

from __future__ import annotations

import pytest

from bench.fakes.anthropic_api import FakeAnthropic, Reply
from bench.fakes.slack_api import Call
from bot.identity import SlackUser
from bot.ids import Action
from bot.metrics import REGISTRY
from tests.harness import CHANNEL_ID, AppHarness
from tests.scenarios import mention

VERDICTS = ("helpful", "not_helpful")


def _sample(name: str, verdict: str) -> float:
    return REGISTRY.get_sample_value(f"rollout_bot_answer_feedback{name}_total", {"verdict": verdict}) or 0.0


def _counts() -> dict[str, float]:
    """First verdicts and changes, by verdict."""
    return {
        **{f"first:{v}": _sample("", v) for v in VERDICTS},
        **{f"changed:{v}": _sample("_changed", v) for v in VERDICTS},
    }


def _delta(before: dict[str, float]) -> dict[str, float]:
    return {key: value - before[key] for key, value in _counts().items()}


def _current(delta: dict[str, float], verdict: str) -> float:
    """What the README's query computes: people whose verdict on an answer is now `verdict`."""
    other = "not_helpful" if verdict == "helpful" else "helpful"
    return delta[f"first:{verdict}"] + delta[f"changed:{verdict}"] - delta[f"changed:{other}"]


async def _answer(agent_harness: AppHarness, model: FakeAnthropic, user: SlackUser) -> Call:
    model.script(Reply(text="An answer."))
    await agent_harness.event(mention(user, "hi"))
    return await agent_harness.slack.wait_for_answer("An answer.")


async def test_one_person_changing_their_mind_is_counted_once_and_the_last_click_is_kept(
    agent_harness: AppHarness, model: FakeAnthropic
) -> None:
    user = agent_harness.new_user()
    answer = await _answer(agent_harness, model, user)
    before = _counts()

    for verdict in ("helpful", "not_helpful", "helpful", "not_helpful"):
        await agent_harness.click(user, answer, Action.ANSWER_FEEDBACK, value=verdict)
        await agent_harness.settle()

    delta = _delta(before)
    assert delta["first:helpful"] + delta["first:not_helpful"] == 1  # one person, one answer
    assert delta == {"first:helpful": 1, "first:not_helpful": 0, "changed:helpful": 1, "changed:not_helpful": 2}
    assert (_current(delta, "helpful"), _current(delta, "not_helpful")) == (0, 1)
    stored = await agent_harness.services.store.feedback.verdict(user, CHANNEL_ID, str(answer.args["ts"]))
    assert stored == "not_helpful"


async def test_clicks_handled_out_of_order_keep_the_last_click(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    user = agent_harness.new_user()
    answer = await _answer(agent_harness, model, user)
    before = _counts()

    # Each click's work runs after its ack, so these may be handled in any order; Slack's action_ts orders them.
    for verdict in ("helpful", "not_helpful", "helpful", "not_helpful"):
        await agent_harness.click(user, answer, Action.ANSWER_FEEDBACK, value=verdict)
    await agent_harness.settle()

    delta = _delta(before)
    assert delta["first:helpful"] + delta["first:not_helpful"] == 1
    assert (_current(delta, "helpful"), _current(delta, "not_helpful")) == (0, 1)
    assert (
        await agent_harness.services.store.feedback.verdict(user, CHANNEL_ID, str(answer.args["ts"])) == "not_helpful"
    )


@pytest.mark.parametrize("verdict", VERDICTS)
async def test_the_same_verdict_clicked_again_counts_nothing_more(
    agent_harness: AppHarness, model: FakeAnthropic, verdict: str
) -> None:
    user = agent_harness.new_user()
    answer = await _answer(agent_harness, model, user)
    before = _counts()

    for _ in range(2):
        await agent_harness.click(user, answer, Action.ANSWER_FEEDBACK, value=verdict)
        await agent_harness.settle()

    delta = _delta(before)
    assert delta[f"first:{verdict}"] == 1 and sum(delta.values()) == 1
    recent = await agent_harness.services.store.activity.recent(user)
    assert len([entry for entry in recent if entry.text.startswith("Rated an answer")]) == 1


async def test_each_person_has_their_own_verdict_on_an_answer(agent_harness: AppHarness, model: FakeAnthropic) -> None:
    asker, colleague = agent_harness.new_user(), agent_harness.new_user()
    answer = await _answer(agent_harness, model, asker)
    before = _counts()

    await agent_harness.click(asker, answer, Action.ANSWER_FEEDBACK, value="helpful")
    await agent_harness.click(colleague, answer, Action.ANSWER_FEEDBACK, value="not_helpful")
    await agent_harness.settle()

    delta = _delta(before)
    assert delta == {"first:helpful": 1, "first:not_helpful": 1, "changed:helpful": 0, "changed:not_helpful": 0}
    ts = str(answer.args["ts"])
    assert await agent_harness.services.store.feedback.verdict(asker, CHANNEL_ID, ts) == "helpful"
    assert await agent_harness.services.store.feedback.verdict(colleague, CHANNEL_ID, ts) == "not_helpful"
