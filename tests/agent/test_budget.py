"""Daily model-token budgets: counted from the API's usage fields at their weights, per user and per workspace,
refused with a message saying when they reset, and reset when the UTC day changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from bench.fakes.anthropic_api import Reply
from bot import metrics
from bot.agent.budget import TokenBudget, Usage
from bot.blocks.messages import user_message
from bot.identity import SlackUser
from tests.scenarios import AgentRig, MakeRig


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _budget(rig: AgentRig, clock: Clock, *, per_user: int | None = None, per_team: int | None = None) -> TokenBudget:
    budget = TokenBudget(rig.services.store.usage, per_user=per_user, per_team=per_team, clock=clock)
    rig.agent.budget = budget
    return budget


def test_weights_follow_the_usage_fields() -> None:
    assert Usage(input=1000).weighted == 1000
    assert Usage(cache_write=1000).weighted == 1250
    assert Usage(cache_read=1000).weighted == 100
    assert Usage(output=1000).weighted == 5000
    assert Usage(input=1, cache_read=1).weighted == 2  # rounded up


async def test_a_user_over_budget_is_refused_until_the_day_changes(rig: AgentRig) -> None:
    clock = Clock()
    budget = _budget(rig, clock, per_user=1)
    user = rig.user()
    rig.model.script(Reply(text="Hello!"))

    first = await rig.agent.answer(user, rig.thread(), "hi")
    assert first.text == "Hello!"
    (request,) = rig.model.requests
    assert request.usage is not None
    billed = Usage.of(request.usage)
    assert billed.weighted > 1
    assert (await rig.services.store.usage.used(user, clock.now.date())).user == billed.weighted

    refused = await rig.agent.answer(user, rig.thread(), "and again")
    assert refused.error == "llm_budget"
    assert len(rig.model.requests) == 1  # no model call for a refused turn
    assert "midnight UTC" in user_message("llm_budget")
    assert budget.resets_at() == datetime(2026, 12, 3, tzinfo=UTC)

    other = rig.user()  # someone else in the workspace has their own budget
    rig.model.script(Reply(text="Hi other."))
    assert (await rig.agent.answer(other, rig.thread(), "hi")).text == "Hi other."

    clock.now += timedelta(days=1)
    clock.now = clock.now.replace(hour=0, minute=0, second=1)
    rig.model.script(Reply(text="A new day."))
    assert (await rig.agent.answer(user, rig.thread(), "hi")).text == "A new day."


async def test_usage_exactly_at_the_users_daily_budget_counts_as_over(rig: AgentRig) -> None:
    clock = Clock()
    user = rig.user()
    await rig.services.store.usage.add(user, clock.now.date(), 500)

    _budget(rig, clock, per_user=501)  # one token left: still allowed
    rig.model.script(Reply(text="Still within."))
    assert (await rig.agent.answer(user, rig.thread(), "hi")).text == "Still within."

    spent = (await rig.services.store.usage.used(user, clock.now.date())).user
    _budget(rig, clock, per_user=spent, per_team=spent + 10**6)  # exactly used up
    refused = await rig.agent.answer(user, rig.thread(), "and again")
    assert refused.error == "llm_budget"
    assert len(rig.model.requests) == 1  # the refused turn cost no model call


async def test_the_workspace_budget_covers_all_its_users(rig: AgentRig) -> None:
    clock = Clock()
    first_user = rig.user()
    second_user = SlackUser(first_user.team_id, first_user.user_id + "B")
    rig.model.script(Reply(text="One."))
    _budget(rig, clock)  # unlimited, but counted
    assert (await rig.agent.answer(first_user, rig.thread(), "hi")).text == "One."
    used = await rig.services.store.usage.used(second_user, clock.now.date())
    assert used.user == 0 and used.team > 0

    _budget(rig, clock, per_user=10**9, per_team=used.team)
    refused = await rig.agent.answer(second_user, rig.thread(), "hi")
    assert refused.error == "llm_budget_team"
    assert "workspace" in user_message("llm_budget_team")

    elsewhere = SlackUser(first_user.team_id + "X", second_user.user_id)  # another workspace, same user id
    rig.model.script(Reply(text="Other team."))
    assert (await rig.agent.answer(elsewhere, rig.thread(), "hi")).text == "Other team."


async def test_a_workspace_budget_alone_refuses_once_used_up(rig: AgentRig) -> None:
    clock = Clock()
    user = rig.user()
    await rig.services.store.usage.add(user, clock.now.date(), 700)
    _budget(rig, clock, per_team=700)  # no per-user limit at all

    refused = await rig.agent.answer(SlackUser(user.team_id, user.user_id + "B"), rig.thread(), "hi")

    assert refused.error == "llm_budget_team"
    assert rig.model.requests == []


async def test_settings_set_the_budgets(make_rig: MakeRig) -> None:
    rig = await make_rig(agent_daily_tokens_per_user=5, agent_daily_tokens_per_team="")
    assert rig.agent.budget is not None and rig.agent.budget.limited
    unlimited = await make_rig()
    assert unlimited.agent.budget is not None and not unlimited.agent.budget.limited


def _samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.scrape().decode())
        for sample in family.samples
    }


async def test_model_calls_tokens_and_refusals_are_in_the_metrics(rig: AgentRig) -> None:
    clock = Clock()
    _budget(rig, clock, per_user=1)
    user = rig.user()
    rig.model.script(Reply(text="Hello!"))
    before = _samples()

    await rig.agent.answer(user, rig.thread(), "hi")
    await rig.agent.answer(user, rig.thread(), "again")

    after = _samples()
    (request,) = rig.model.requests
    assert request.usage is not None

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("rollout_bot_llm_calls_total", stop_reason="end_turn") == 1
    assert delta("rollout_bot_llm_tokens_total", kind="input") == request.usage.input_tokens
    assert delta("rollout_bot_llm_tokens_total", kind="output") == request.usage.output_tokens
    assert delta("rollout_bot_llm_over_budget_total", budget="user") == 1


async def test_approval_clicks_are_counted_by_outcome(rig: AgentRig) -> None:
    user = rig.user()
    expires = datetime.now(UTC) + timedelta(hours=1)
    record = await rig.services.store.approvals.create(user, "create_note", {}, "Add a note", None, expires)
    before = _samples().get(("rollout_bot_approvals_total", (("outcome", "cancelled"),)), 0.0)

    decided = await rig.agent.approvals.decide(record.id, user, approve=False)
    again = await rig.agent.approvals.decide(record.id, user, approve=False)

    assert (decided.status, again.status) == ("cancelled", "already_done")
    after = _samples()
    assert after[("rollout_bot_approvals_total", (("outcome", "cancelled"),))] - before == 1
    assert after[("rollout_bot_approvals_total", (("outcome", "already_done"),))] >= 1
