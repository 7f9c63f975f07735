"""Conversation history as the Messages API wants it: valid role order, tool pairs intact, within a token budget.

Stored messages are Anthropic message params (`{"role", "content": [blocks]}`), sometimes with a private `pending`
key the agent uses to remember a write awaiting approval. Everything here is pure and works on plain dicts.

Token counts are estimated as one token per four characters of compact JSON. That is no tokenizer, but it costs
nothing, is stable, and errs towards trimming a little early for English and JSON, which is what CRM data is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

Message = dict[str, Any]
Block = dict[str, Any]

CHARS_PER_TOKEN = 4
API_KEYS = ("role", "content")  # a stored message may carry more; the API gets only these


def estimate_tokens(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)) // CHARS_PER_TOKEN + 1


def blocks_of(message: Message) -> list[Block]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


def tool_use_ids(message: Message) -> list[str]:
    return [b["id"] for b in blocks_of(message) if b.get("type") == "tool_use" and isinstance(b.get("id"), str)]


def is_tool_result_message(message: Message) -> bool:
    return message.get("role") == "user" and any(b.get("type") == "tool_result" for b in blocks_of(message))


def text_of(message: Message) -> str:
    return "\n\n".join(
        b["text"].strip() for b in blocks_of(message) if b.get("type") == "text" and str(b.get("text", "")).strip()
    )


def tool_result(tool_use_id: str, text: str, *, is_error: bool = False) -> Block:
    block: Block = {"type": "tool_result", "tool_use_id": tool_use_id, "content": text or "(no output)"}
    if is_error:
        block["is_error"] = True
    return block


def dangling_tool_uses(messages: Sequence[Message]) -> list[str]:
    """Ids of tool uses in a final assistant message that no tool_result answers yet (a write awaiting approval)."""
    if not messages or messages[-1].get("role") != "assistant":
        return []
    return tool_use_ids(messages[-1])


# ---- making a history valid ----------------------------------------------------------------------------------


def repair(messages: Iterable[Message]) -> list[Message]:
    """A copy the API accepts, whatever the store holds.

    Starts with a user message; roles alternate (same-role neighbours merged); every tool_use is answered in the very
    next message, tool_results first, with a placeholder result where none was stored; orphaned tool_results and empty
    text blocks are dropped. Normally a no-op: it makes a half-written or concurrently written thread survivable.
    """
    cleaned: list[Message] = []
    for message in messages:
        role = message.get("role")
        if role not in ("user", "assistant"):
            continue
        content = [_copy(b) for b in blocks_of(message) if not _is_empty_text(b)]
        if not content:
            continue
        if cleaned and cleaned[-1]["role"] == role:
            cleaned[-1]["content"].extend(content)
        else:
            cleaned.append({"role": role, "content": content})
    repaired: list[Message] = []
    expected: list[str] = []  # tool uses the previous assistant message asked for
    for message in cleaned:
        if message["role"] == "assistant":
            if expected:  # the assistant spoke again before the tools were answered
                repaired.append({"role": "user", "content": [_missing(i) for i in expected]})
            repaired.append(message)
            expected = tool_use_ids(message)
            continue
        results = [b for b in message["content"] if b.get("type") == "tool_result" and b.get("tool_use_id") in expected]
        answered = {b["tool_use_id"] for b in results}
        results += [_missing(i) for i in expected if i not in answered]
        others = [b for b in message["content"] if b.get("type") != "tool_result"]
        content = _unique_results(results) + others
        expected = []
        if content:
            repaired.append({"role": "user", "content": content})
    if expected:
        repaired.append({"role": "user", "content": [_missing(i) for i in expected]})
    # Dropping orphans can leave two assistant messages or two user messages side by side: merge them.
    merged: list[Message] = []
    for message in repaired:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"].extend(message["content"])
        else:
            merged.append(message)
    return _from_first_user_words(merged)


def _from_first_user_words(messages: list[Message]) -> list[Message]:
    """Start at the first user message with words of its own: results of tool uses cut off before it go too."""
    while messages:
        first = messages[0]
        words = [b for b in first["content"] if b.get("type") != "tool_result"]
        if first["role"] == "user" and words:
            return [{"role": "user", "content": words}, *messages[1:]]
        messages = messages[1:]
    return messages


def _copy(block: Block) -> Block:
    return {key: value for key, value in block.items() if key != "cache_control"}


def _is_empty_text(block: Block) -> bool:
    return block.get("type") == "text" and not str(block.get("text", "")).strip()


def _missing(tool_use_id: str) -> Block:
    return tool_result(tool_use_id, "No result: this call was not completed.", is_error=True)


def _unique_results(results: list[Block]) -> list[Block]:
    seen: set[str] = set()
    unique = []
    for block in results:
        if block["tool_use_id"] not in seen:
            seen.add(block["tool_use_id"])
            unique.append(block)
    return unique


# ---- trimming ------------------------------------------------------------------------------------------------


def exchanges(messages: Sequence[Message]) -> list[list[Message]]:
    """Messages grouped by the user turn that started them; tool results belong to the exchange of their tool use."""
    groups: list[list[Message]] = []
    for message in messages:
        starts_exchange = message.get("role") == "user" and not is_tool_result_message(message)
        if starts_exchange or not groups:
            groups.append([message])
        else:
            groups[-1].append(message)
    return groups


def trim_to_budget(messages: Sequence[Message], budget_tokens: int) -> list[Message]:
    """Drop whole exchanges, oldest first, until the estimate fits; the newest exchange always stays.

    Dropping whole exchanges is what keeps every tool_use next to its tool_result, and the first message a user turn.
    """
    groups = exchanges(messages)
    sizes = [sum(estimate_tokens(m) for m in group) for group in groups]
    total = sum(sizes)
    first = 0
    while first < len(groups) - 1 and total > budget_tokens:
        total -= sizes[first]
        first += 1
    return [message for group in groups[first:] for message in group]


def for_request(messages: Sequence[Message], budget_tokens: int) -> list[Message]:
    """What to send: repaired, trimmed, and with a cache breakpoint on the last block (the conversation prefix)."""
    prepared = trim_to_budget(repair(messages), budget_tokens)
    if prepared:
        last = prepared[-1]
        blocks = list(last["content"])
        blocks[-1] = {**blocks[-1], "cache_control": {"type": "ephemeral"}}
        prepared[-1] = {"role": last["role"], "content": blocks}
    return prepared
