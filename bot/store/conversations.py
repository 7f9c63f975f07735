"""LLM thread memory: the Anthropic message params of one Slack thread, in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.sql import ColumnElement

from bot.store.database import Database
from bot.store.records import ConversationKey
from bot.store.schema import conversation_messages, conversations, utc_now


class ConversationRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def load(self, key: ConversationKey) -> list[dict[str, Any]]:
        async with self._database.read() as connection:
            rows = await connection.execute(
                select(conversation_messages.c.message).where(_is(key)).order_by(conversation_messages.c.seq)
            )
            return list(rows.scalars())

    async def append(self, key: ConversationKey, messages: Sequence[dict[str, Any]]) -> None:
        """Add messages after everything already stored; a concurrent append lands wholly before or after."""
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


def _is(key: ConversationKey) -> ColumnElement[bool]:
    return and_(
        conversation_messages.c.team_id == key.team_id,
        conversation_messages.c.channel_id == key.channel_id,
        conversation_messages.c.thread_ts == key.thread_ts,
    )
