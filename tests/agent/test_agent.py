"""The bounded tool loop against the sandbox CRM and the fake model: rounds, parallel calls, errors, bounds, caching."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bench.fakes.anthropic_api import Fail, Reply, ToolCall, validate
from bot.agent import EarlyStop
from bot.agent.history import repair
from bot.agent.prompt import SYSTEM_PROMPT
from bot.rollout.outcomes import ChooseCredential, ConnectNeeded
from tests.scenarios import AgentRig, MakeRig

OVERVIEW = "get_person_overview"


def overview(query: str, call_id: str = "") -> ToolCall:
    return ToolCall(OVERVIEW, {"query": query}, id=call_id)


async def test_two_tool_rounds_then_an_answer(rig: AgentRig) -> None:
    user, thread = rig.user(), rig.thread()
    rig.model.script(
        Reply(text="Checking your accounts.", tool_calls=(ToolCall("list_credentials"),)),
        Reply(tool_calls=(overview("Ada Lovelace"),)),
        Reply(text="**Ada Lovelace** is Head of Research at Analytical Engines."),
    )

    result = await rig.agent.answer(user, thread, "What's new with Ada Lovelace?")

    assert result.text == "**Ada Lovelace** is Head of Research at Analytical Engines."
    assert result.stopped is None and result.error is None and result.approval is None
    assert [p.person.name for p in result.people] == ["Ada Lovelace"]  # shown as a person card
    _, second, third = rig.model.requests
    assert "HubSpot" in json.dumps(second.tool_results())  # round 1: the credentials came back
    assert "Analytical Engines" in json.dumps(third.tool_results())  # round 2: the overview came back
    assert len(third.messages) == 5  # question, two tool rounds, each answered
    stored = await rig.services.store.conversations.load(thread)
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert validate({"model": "m", "max_tokens": 1, "messages": repair([*stored, _user("next")])}) is None


async def test_tool_calls_of_one_response_run_concurrently(rig: AgentRig) -> None:
    user, thread = rig.user(), rig.thread()
    await rig.services.crm.tools(user)  # open the MCP session first, so only the tool calls are timed
    rig.model.script(
        Reply(tool_calls=(overview("Ada Lovelace", "toolu_a"), overview("Grace Hopper", "toolu_b"))),
        Reply(text="Both found."),
    )
    latency = 0.5
    rig.sandbox.set_latency(latency)
    try:
        result = await rig.agent.answer(user, thread, "Compare Ada Lovelace and Grace Hopper")
    finally:
        rig.sandbox.set_latency(0.0)

    assert result.text == "Both found."
    first, second = rig.model.requests
    results = second.tool_results()
    assert [r["tool_use_id"] for r in results] == ["toolu_a", "toolu_b"]
    assert "Analytical Engines" in results[0]["content"] and "COBOL" in results[1]["content"]
    # One after the other would take two latencies; together they take about one.
    assert second.at - first.at < 2 * latency - 0.1
    assert {p.person.name for p in result.people} == {"Ada Lovelace", "Grace Hopper"}


async def test_a_tool_error_goes_back_to_the_model(rig: AgentRig) -> None:
    user = rig.user()
    rig.model.script(Reply(tool_calls=(overview("Nobody Anywhere"),)), Reply(text="I couldn't find them."))

    result = await rig.agent.answer(user, rig.thread(), "Who is Nobody Anywhere?")

    assert result.text == "I couldn't find them."
    (fed_back,) = rig.model.requests[1].tool_results()
    assert fed_back["is_error"] is True
    assert "No person matches" in fed_back["content"]


async def test_the_model_cannot_choose_the_credential(rig: AgentRig) -> None:
    user = rig.user()
    rig.model.script(
        Reply(tool_calls=(ToolCall(OVERVIEW, {"query": "Ada Lovelace", "credentialId": "cred_someone_else"}),)),
        Reply(text="Found her."),
    )

    await rig.agent.answer(user, rig.thread(), "Ada Lovelace?")

    first, second = rig.model.requests
    for tool in first.body["tools"]:
        assert "credentialId" not in tool["input_schema"]["properties"]
        assert "credentialId" not in tool["input_schema"].get("required", [])
    (fed_back,) = second.tool_results()
    assert "is_error" not in fed_back and "Analytical Engines" in fed_back["content"]


async def test_step_bound_answers_with_what_it_has(make_rig: MakeRig) -> None:
    rig = await make_rig(agent_max_steps=2)
    thread = rig.thread()
    rig.model.script(
        Reply(text="Looking at Ada first.", tool_calls=(overview("Ada Lovelace"),)),
        Reply(text="Ada is a research lead; now Grace.", tool_calls=(overview("Grace Hopper"),)),
        Reply(text="never requested"),
    )

    result = await rig.agent.answer(rig.user(), thread, "Tell me about everyone")

    assert result.stopped is EarlyStop.STEPS
    assert result.text == "Ada is a research lead; now Grace."
    assert len(rig.model.requests) == 2 and rig.model.unused == 1
    stored = await rig.services.store.conversations.load(thread)
    assert stored[-1]["role"] == "assistant"  # the thread stays a valid conversation for the next turn
    assert validate({"model": "m", "max_tokens": 1, "messages": repair([*stored, _user("next")])}) is None


async def test_wall_clock_bound_answers_with_what_it_has(make_rig: MakeRig) -> None:
    rig = await make_rig(agent_timeout_seconds=1.5)
    never = asyncio.Event()
    rig.model.script(
        Reply(text="Looking Ada up.", tool_calls=(overview("Ada Lovelace"),)),
        Reply(text="too late", hold=never),
    )

    result = await rig.agent.answer(rig.user(), rig.thread(), "Ada?")

    assert result.stopped is EarlyStop.TIME
    assert result.text == "Looking Ada up."
    assert [p.person.name for p in result.people] == ["Ada Lovelace"]
    never.set()


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [("max_tokens", EarlyStop.MAX_TOKENS), ("model_context_window_exceeded", EarlyStop.CONTEXT)],
)
async def test_cut_off_answers_are_kept_and_flagged(rig: AgentRig, stop_reason: str, expected: EarlyStop) -> None:
    thread = rig.thread()
    rig.model.script(Reply(text="Ada is", tool_calls=(overview("Ada"),), stop_reason=stop_reason))
    calls_before = rig.sandbox.stats.tool_calls[OVERVIEW]

    result = await rig.agent.answer(rig.user(), thread, "Ada?")

    assert result.stopped is expected and result.text == "Ada is"
    assert rig.sandbox.stats.tool_calls[OVERVIEW] == calls_before  # a cut-off call never runs
    stored = await rig.services.store.conversations.load(thread)
    assert all(b["type"] != "tool_use" for m in stored for b in m["content"])


async def test_a_refusal_is_reported_and_forgotten(rig: AgentRig) -> None:
    thread = rig.thread()
    rig.model.script(Reply(stop_reason="refusal"))

    result = await rig.agent.answer(rig.user(), thread, "something it won't do")

    assert result.refused is True and result.text == ""
    assert await rig.services.store.conversations.load(thread) == []


async def test_pause_turn_is_sent_back_to_continue(rig: AgentRig) -> None:
    rig.model.script(Reply(text="Working on it", stop_reason="pause_turn"), Reply(text="Done."))

    result = await rig.agent.answer(rig.user(), rig.thread(), "Long job")

    assert result.text == "Done."
    continued = rig.model.requests[1].messages
    assert continued[-1]["role"] == "assistant" and continued[-1]["content"][0]["text"] == "Working on it"


async def test_cache_breakpoints_on_tools_system_and_conversation(rig: AgentRig) -> None:
    user, thread = rig.user(), rig.thread()
    rig.model.script(Reply(tool_calls=(overview("Ada Lovelace"),)), Reply(text="Here she is."))

    await rig.agent.answer(user, thread, "Ada Lovelace?")

    first, second = rig.model.requests
    body = first.body
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert all("cache_control" not in tool for tool in body["tools"][:-1])
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["system"][0]["text"] == SYSTEM_PROMPT  # stable, so its cache entry is shared
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert second.body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in json.dumps(second.body["messages"][:-1])  # one moving breakpoint, not a pile
    # The second step reads the tools+system prefix the first one wrote.
    assert first.usage is not None and second.usage is not None
    assert first.usage.cache_creation_input_tokens > 0
    assert second.usage.cache_read_input_tokens >= first.usage.cache_creation_input_tokens
    stored = await rig.services.store.conversations.load(thread)
    assert "cache_control" not in json.dumps(stored)  # breakpoints are per request, never stored


async def test_rate_limit_is_retried_by_the_sdk(rig: AgentRig) -> None:
    rig.model.script(Fail(429, "rate_limit_error"), Fail(529, "overloaded_error"), Reply(text="Hello!"))

    result = await rig.agent.answer(rig.user(), rig.thread(), "hi")

    assert result.text == "Hello!" and result.error is None
    assert [r.status for r in rig.model.requests] == [429, 529, 200]


async def test_persistent_overload_becomes_a_try_again_message(rig: AgentRig, caplog: pytest.LogCaptureFixture) -> None:
    thread = rig.thread()
    rig.model.script(*[Fail(529, "overloaded_error")] * 4)

    with caplog.at_level(logging.WARNING):
        result = await rig.agent.answer(rig.user(), thread, "hi")

    assert result.error == "llm_rate_limited"
    assert len(rig.model.requests) == 4  # the first try and three SDK retries
    assert await rig.services.store.conversations.load(thread) == []  # the user will simply ask again
    assert "OverloadedError" in caplog.text and "hi" not in caplog.messages


async def test_overload_mid_stream_becomes_a_try_again_message(rig: AgentRig) -> None:
    rig.model.script(Reply(text="partial", error_mid_stream="overloaded_error"))

    result = await rig.agent.answer(rig.user(), rig.thread(), "hi")

    assert result.error == "llm_rate_limited"


async def test_other_api_failures_become_unavailable(rig: AgentRig) -> None:
    rig.model.script(Fail(400, "invalid_request_error", retry_after_ms=None))

    result = await rig.agent.answer(rig.user(), rig.thread(), "hi")

    assert result.error == "llm_unavailable"


async def test_several_crm_accounts_stop_the_loop_with_a_picker(rig: AgentRig) -> None:
    user, thread = rig.user(), rig.thread()
    rig.sandbox.crm.set_accounts(user.default_subject, ["hubspot", "salesforce"])
    rig.model.script(Reply(tool_calls=(overview("Ada Lovelace"),)), Reply(text="never requested"))

    result = await rig.agent.answer(user, thread, "Ada?")

    assert isinstance(result.problem, ChooseCredential)
    assert {c.provider for c in result.problem.credentials} == {"hubspot", "salesforce"}
    assert len(rig.model.requests) == 1
    stored = await rig.services.store.conversations.load(thread)
    assert stored[-1]["role"] == "assistant"


async def test_no_crm_connected_stops_the_loop_with_a_connect_link(rig: AgentRig) -> None:
    user = rig.user()
    rig.sandbox.crm.set_accounts(user.default_subject, [])
    rig.model.script(Reply(tool_calls=(overview("Ada Lovelace"),)))

    result = await rig.agent.answer(user, rig.thread(), "Ada?")

    assert isinstance(result.problem, ConnectNeeded)
    assert "/mcp/credentials/" in result.problem.link


async def test_no_api_key_builds_no_agent(make_rig: MakeRig) -> None:
    rig = await make_rig(anthropic_api_key=None)
    assert rig.services.agent is None


def _user(text: str) -> dict[str, object]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}
