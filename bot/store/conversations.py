"""LLM thread memory: the Anthropic message params of one Slack thread, in order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.sql import ColumnElement

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.records import ConversationKey
from bot.store.schema import conversation_messages, conversations, utc_now

# Rows per query when reading a thread newest first: most turns fit in one or two pages.
LOAD_PAGE_SIZE = 32


class ConversationRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def load(self, key: ConversationKey, *, max_chars: int | None = None) -> list[dict[str, Any]]:
        """The thread's messages, oldest first.

        With `max_chars`, only the newest ones: read newest first, page by page, until they hold at least `max_chars`
        characters of compact JSON and the oldest one read starts a user turn. A turn then reads what its history
        budget can use, however long the thread has grown.
        """
        if max_chars is None:
            async with self._database.read() as connection:
                result = await connection.execute(
                    select(conversation_messages.c.message).where(_is(key)).order_by(conversation_messages.c.seq)
                )
                return list(result.scalars())
        newest_first: list[dict[str, Any]] = []
        chars = 0
        seq = conversation_messages.c.seq
        async with self._database.read() as connection:
            below: int | None = None
            while True:
                page = select(seq, conversation_messages.c.message).where(_is(key))
                if below is not None:
                    page = page.where(seq < below)
                rows = (await connection.execute(page.order_by(seq.desc()).limit(LOAD_PAGE_SIZE))).all()
                for row in rows:
                    newest_first.append(row.message)
                    chars += len(json.dumps(row.message, ensure_ascii=False, separators=(",", ":"), default=str))
                    if chars >= max_chars and _starts_user_turn(row.message):
                        return newest_first[::-1]
                if len(rows) < LOAD_PAGE_SIZE:
                    return newest_first[::-1]
                below = rows[-1].seq

    async def append(
        self, key: ConversationKey, messages: Sequence[dict[str, Any]], *, user: SlackUser | None = None
    ) -> None:
        """Add messages after everything already stored; a concurrent append lands wholly before or after.

        `user`: who is talking; the first one becomes the conversation's owner, whose "forget me" deletes it.
        """
        if not messages:
            return
        count = len(messages)
        now = utc_now()
        async with self._database.write() as connection:
            # Reserve `count` sequence numbers with one atomic upsert: the row lock it takes orders concurrent
            # writers, so no writer has to retry. The messages' primary key still rejects any duplicate number.
            reserve = (
                self._database.insert(conversations)
                .values(
                    team_id=key.team_id,
                    channel_id=key.channel_id,
                    thread_ts=key.thread_ts,
                    next_seq=count,
                    user_id=user.user_id if user is not None and user.team_id == key.team_id else None,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_update(
                    index_elements=[conversations.c.team_id, conversations.c.channel_id, conversations.c.thread_ts],
                    set_={"next_seq": conversations.c.next_seq + count, "updated_at": now},
                )
                .returning(conversations.c.next_seq)
            )
            end = (await connection.execute(reserve)).scalar_one()
            await connection.execute(
                insert(conversation_messages),
                [
                    {
                        "team_id": key.team_id,
                        "channel_id": key.channel_id,
                        "thread_ts": key.thread_ts,
                        "seq": seq,
                        "message": message,
                        "created_at": now,
                    }
                    for seq, message in enumerate(messages, start=end - count)
                ],
            )

    async def forget_started_by(self, user: SlackUser) -> tuple[int, int]:
        """Delete the conversations `user` started, with their messages: (conversations, messages) deleted."""
        c, m = conversations.c, conversation_messages.c
        owned = (c.team_id == user.team_id) & (c.user_id == user.user_id)
        async with self._database.write() as connection:
            keys = (await connection.execute(select(c.channel_id, c.thread_ts).where(owned))).all()
            messages = 0
            for channel_id, thread_ts in keys:
                deleted = await connection.execute(
                    delete(conversation_messages).where(
                        (m.team_id == user.team_id) & (m.channel_id == channel_id) & (m.thread_ts == thread_ts)
                    )
                )
                messages += deleted.rowcount
            threads = await connection.execute(delete(conversations).where(owned))
        return threads.rowcount, messages


def _is(key: ConversationKey) -> ColumnElement[bool]:
    return and_(
        conversation_messages.c.team_id == key.team_id,
        conversation_messages.c.channel_id == key.channel_id,
        conversation_messages.c.thread_ts == key.thread_ts,
    )


def _starts_user_turn(message: dict[str, Any]) -> bool:
    """A user message with words of its own, not only tool results: where an exchange with the model begins."""
    if message.get("role") != "user":
        return False
    content = message.get("content")
    if isinstance(content, str):
        return True
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") != "tool_result" for block in content
    )
