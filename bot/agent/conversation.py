"""Per-conversation ordering and the bookkeeping of a write that waits for approval inside a stored conversation.

A proposed write ends the turn with the assistant's tool_use unanswered. That stored assistant message carries a private
`pending` entry: the approval id, the tool_use id, and the results of the other tools called in the same response, so
the tool_result message can be completed whenever the click comes — in this process or another, before or after a
restart.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from bot.agent.history import Block, Message, dangling_tool_uses, tool_result
from bot.store import ConversationKey

PENDING = "pending"

STILL_WAITING = (
    "Not done: this change is still waiting for the user's approval in Slack; nothing has been written. "
    "If they approve it later, you will be told the result."
)
ONE_AT_A_TIME = "Not done: only one change at a time can wait for the user's approval. Propose it again afterwards."


def pending_marker(approval_id: str, tool_use_id: str, other_results: Sequence[Block]) -> dict[str, Any]:
    return {"approval_id": approval_id, "tool_use_id": tool_use_id, "results": list(other_results)}


def closing_results(messages: Sequence[Message]) -> list[Block]:
    """tool_results answering a write still pending at the end of the history (the user spoke again meanwhile)."""
    dangling = dangling_tool_uses(messages)
    if not dangling:
        return []
    marker = messages[-1].get(PENDING) or {}
    stored = [b for b in marker.get("results", []) if isinstance(b, dict) and b.get("tool_use_id") in dangling]
    answered = {b["tool_use_id"] for b in stored}
    return stored + [tool_result(i, STILL_WAITING, is_error=True) for i in dangling if i not in answered]


def find_pending(messages: Sequence[Message], approval_id: str) -> int | None:
    """Index of the assistant message that proposed this approval's write."""
    for index in range(len(messages) - 1, -1, -1):
        marker = messages[index].get(PENDING)
        if isinstance(marker, dict) and marker.get("approval_id") == approval_id:
            return index
    return None


def resolution(messages: Sequence[Message], approval_id: str, summary: str, output: str, *, failed: bool) -> Message:
    """The user message that tells the model how its proposed write ended.

    While the proposal is still the last message, this is the real tool_result (plus its siblings'). When the user
    moved on meanwhile, the tool_use was already answered with "still waiting", so the news comes as a note instead.
    """
    index = find_pending(messages, approval_id)
    if index is not None and index == len(messages) - 1:
        marker = messages[index][PENDING]
        own = tool_result(marker["tool_use_id"], output, is_error=failed)
        siblings = [b for b in marker.get("results", []) if isinstance(b, dict)]
        return {"role": "user", "content": [*siblings, own]}
    verdict = "it failed" if failed else "it ran"
    note = f"(Update from the app: the user decided on the earlier proposed change “{summary}” — {verdict}.)\n{output}"
    return {"role": "user", "content": [{"type": "text", "text": note}]}


class ConversationLocks:
    """One turn at a time per conversation in this process, so two mentions don't interleave their messages."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[ConversationKey, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, key: ConversationKey) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            yield
