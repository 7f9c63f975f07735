from __future__ import annotations

import asyncio
import uuid

from bot.store import ConversationKey, Store


def _key(team_id: str = "T1") -> ConversationKey:
    return ConversationKey(team_id, "C42", f"1716900000.{uuid.uuid4().int % 10**6:06d}{uuid.uuid4().hex[:6]}")


async def test_unknown_conversation_is_empty(store: Store):
    assert await store.conversations.load(_key()) == []


async def test_appends_come_back_in_order(store: Store):
    key = _key()
    question = {"role": "user", "content": "Wer ist Ada Lovelace? ✨"}
    tool_use = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "search_people", "input": {"query": "ada"}}],
    }
    tool_result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "{}"}]}],
    }

    await store.conversations.append(key, [question, tool_use])
    await store.conversations.append(key, [])
    await store.conversations.append(key, [tool_result])

    assert await store.conversations.load(key) == [question, tool_use, tool_result]


async def test_concurrent_appends_keep_each_batch_whole_and_in_order(
    store: Store, database_url, encryption_keys, open_store
):
    key = _key()
    batches = [
        [{"role": "user", "content": f"writer {writer} part {part}"} for part in range(3)] for writer in range(10)
    ]

    async with open_store(database_url, encryption_keys) as other_process:
        writers = [store, other_process] * 5
        await asyncio.gather(
            *(writer.conversations.append(key, batch) for writer, batch in zip(writers, batches, strict=True))
        )

    loaded = await store.conversations.load(key)
    assert len(loaded) == 30
    landed = [loaded[start : start + 3] for start in range(0, 30, 3)]
    assert sorted(landed, key=lambda batch: batch[0]["content"]) == sorted(batches, key=lambda b: b[0]["content"])


async def test_conversations_are_keyed_by_team_channel_and_thread(store: Store):
    key = _key()
    neighbours = [
        ConversationKey(key.team_id, key.channel_id, key.thread_ts + "1"),
        ConversationKey(key.team_id, "C43", key.thread_ts),
        ConversationKey("T2", key.channel_id, key.thread_ts),
    ]
    await store.conversations.append(key, [{"role": "user", "content": "mine"}])

    for neighbour in neighbours:
        assert await store.conversations.load(neighbour) == []
