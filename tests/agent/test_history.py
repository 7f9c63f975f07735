"""Thread memory in the database (across turns and restarts) and history trimming that keeps tool pairs together."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bench.fakes.anthropic_api import Reply, ToolCall, validate
from bot.agent.history import exchanges, for_request, repair, tool_result, trim_to_budget
from tests.scenarios import AgentRig, MakeRig


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def tool_round(call_id: str, output: str) -> list[dict[str, Any]]:
    use = {"type": "tool_use", "id": call_id, "name": "get_person_overview", "input": {"query": "x"}}
    return [
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [tool_result(call_id, output)]},
    ]


def body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 1, "messages": messages}


async def test_a_thread_remembers_across_turns_and_restarts(rig: AgentRig) -> None:
    person, thread = rig.user(), rig.thread()
    rig.model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)), Reply(text="A1"))
    await rig.agent.answer(person, thread, "Who is Ada Lovelace?")
    rig.model.script(Reply(text="A2"))
    await rig.agent.answer(person, thread, "And her title?")

    second_turn = rig.model.requests[-1].messages
    assert second_turn[0]["content"][0]["text"] == "Who is Ada Lovelace?"
    assert "Analytical Engines" in json.dumps(second_turn)  # the earlier tool result is remembered
    assert second_turn[-1]["content"][0]["text"] == "And her title?"

    services = await rig.restart()  # a new process on the same database
    assert services.agent is not None
    rig.model.script(Reply(text="A3"))
    await services.agent.answer(person, thread, "Remind me what you said?")
    after_restart = rig.model.requests[-1].messages
    assert [m["content"][-1].get("text") for m in after_restart if m["role"] == "assistant"][-2:] == ["A1", "A2"]
    assert len(after_restart) == len(second_turn) + 2

    rig.model.script(Reply(text="fresh"))
    await services.agent.answer(person, rig.thread(), "A new thread?")
    assert rig.model.requests[-1].messages == [
        {"role": "user", "content": [{"type": "text", "text": "A new thread?", "cache_control": {"type": "ephemeral"}}]}
    ]


async def test_long_threads_are_trimmed_oldest_first(make_rig: MakeRig) -> None:
    rig = await make_rig(agent_history_tokens=1000)
    person, thread = rig.user(), rig.thread()
    for turn in range(6):
        rig.model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)))
        rig.model.script(Reply(text=f"answer {turn} " + "x" * 400))
        await rig.agent.answer(person, thread, f"question {turn}")

    sent = rig.model.requests[-1].messages
    questions = [b["text"] for m in sent for b in m["content"] if b.get("text", "").startswith("question")]
    assert sent[0]["content"][0]["text"] == questions[0]  # it starts with a user's question
    assert "question 0" not in questions and questions[-1] == "question 5"  # the oldest turns went, not the newest
    assert validate(body(sent)) is None  # no tool_result lost its tool_use
    stored = await rig.services.store.conversations.load(thread)
    assert len(stored) == 6 * 4  # trimming shapes requests; the thread itself keeps everything


def test_trimming_drops_whole_exchanges() -> None:
    history = [
        user("old question"),
        *tool_round("toolu_1", "y" * 4000),
        assistant("old answer"),
        user("new question"),
        *tool_round("toolu_2", "short"),
    ]
    trimmed = trim_to_budget(history, budget_tokens=200)
    assert trimmed[0] == user("new question")
    assert validate(body(trimmed)) is None
    assert trim_to_budget(history, budget_tokens=10) == trimmed  # the newest exchange always stays
    assert trim_to_budget(history, budget_tokens=100_000) == history


def test_exchanges_keep_tool_results_with_their_call() -> None:
    history = [user("q"), *tool_round("toolu_1", "r"), assistant("a"), user("q2")]
    assert [len(group) for group in exchanges(history)] == [4, 1]


def test_for_request_marks_only_the_last_block_and_leaves_the_input_alone() -> None:
    history = [user("q"), assistant("a"), user("q2")]
    prepared = for_request(history, 10_000)
    assert prepared[-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in json.dumps(prepared[:-1])
    assert "cache_control" not in json.dumps(history)


def test_repair_answers_open_tool_uses_and_drops_orphans() -> None:
    open_call = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "t", "input": {}}]}
    orphan = {"role": "user", "content": [tool_result("toolu_unknown", "?"), {"type": "text", "text": "hi"}]}
    broken = [assistant("leading assistant"), user("q"), open_call, user("moved on"), orphan, assistant("")]
    fixed = repair(broken)
    assert validate(body([*fixed, user("next")])) is None
    assert fixed[0] == user("q")
    assert fixed[2]["content"][0]["tool_use_id"] == "toolu_9" and fixed[2]["content"][0]["is_error"] is True
    assert "toolu_unknown" not in json.dumps(fixed)


_blocks = st.sampled_from(["user", "assistant", "round", "open"])


@given(st.lists(_blocks, max_size=12), st.integers(min_value=1, max_value=400))
def test_any_stored_history_becomes_a_valid_request(shape: list[str], budget: int) -> None:
    history: list[dict[str, Any]] = []
    for index, kind in enumerate(shape):
        if kind == "user":
            history.append(user(f"u{index} " + "z" * index * 30))
        elif kind == "assistant":
            history.append(assistant(f"a{index}"))
        elif kind == "round":
            history += tool_round(f"toolu_{index}", "r" * index * 20)
        else:
            history.append(tool_round(f"toolu_{index}", "")[0])
    history.append(user("now"))
    prepared = for_request(history, budget)
    assert validate(body(prepared)) is None
    assert prepared[-1]["content"][-1]["text"] == "now"
