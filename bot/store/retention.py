"""Retention: conversations, approvals and activity older than the retention period are deleted in bounded batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from bot.store.database import Database
from bot.store.schema import activity, approvals, as_utc, conversation_messages, conversations

# Any constant works, as long as every process uses the same one (and it differs from the migrations' key).
POSTGRES_RETENTION_LOCK_KEY = 0x526F6C6C_52657400  # "Roll" "Ret"


@dataclass(frozen=True, slots=True)
class RetentionBatch:
    """How many rows one batch deleted, per kind."""

    messages: int = 0
    conversations: int = 0
    approvals: int = 0
    activity: int = 0

    @property
    def total(self) -> int:
        return self.messages + self.conversations + self.approvals + self.activity

    def __add__(self, other: RetentionBatch) -> RetentionBatch:
        return RetentionBatch(
            self.messages + other.messages,
            self.conversations + other.conversations,
            self.approvals + other.approvals,
            self.activity + other.activity,
        )


class RetentionRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def delete_batch(self, older_than: datetime, now: datetime, limit: int) -> RetentionBatch | None:
        """Delete up to `limit` rows of each kind created or last touched before `older_than`, in one transaction.

        None when another process holds the retention lock (PostgreSQL): it is doing this round's work already.
        An approval is kept while it can still be decided (not yet expired at `now`), however old it is, and so is the
        conversation it was proposed in while it is pending or approved: Approve continues that conversation.
        """
        if limit < 1:
            raise ValueError("a batch must delete at least one row")
        cutoff, now = as_utc(older_than), as_utc(now)
        async with self._database.write() as connection:
            if not await self._lock(connection):
                return None
            return RetentionBatch(
                messages=await _delete_messages(connection, cutoff, now, limit),
                conversations=await _delete_idle_conversations(connection, cutoff, now, limit),
                approvals=await _delete_approvals(connection, cutoff, now, limit),
                activity=await _delete_activity(connection, cutoff, limit),
            )

    async def _lock(self, connection: AsyncConnection) -> bool:
        if self._database.dialect_name != "postgresql":
            return True  # SQLite: one process, and its write transaction already excludes other writers
        # Transaction-scoped: released with the batch's commit, so a crashed process never keeps it.
        taken = await connection.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": POSTGRES_RETENTION_LOCK_KEY}
        )
        return bool(taken.scalar_one())


async def _delete_messages(connection: AsyncConnection, cutoff: datetime, now: datetime, limit: int) -> int:
    m = conversation_messages.c
    key = tuple_(m.team_id, m.channel_id, m.thread_ts, m.seq)
    oldest = (
        select(m.team_id, m.channel_id, m.thread_ts, m.seq)
        .where((m.created_at < cutoff) & ~_awaits_decision(m.team_id, m.channel_id, m.thread_ts, now))
        .limit(limit)
    )
    result = await connection.execute(delete(conversation_messages).where(key.in_(oldest)))
    return result.rowcount


async def _delete_idle_conversations(connection: AsyncConnection, cutoff: datetime, now: datetime, limit: int) -> int:
    c, m = conversations.c, conversation_messages.c
    has_messages = exists().where(
        and_(m.team_id == c.team_id, m.channel_id == c.channel_id, m.thread_ts == c.thread_ts)
    )
    idle = (
        select(c.team_id, c.channel_id, c.thread_ts)
        .where((c.updated_at < cutoff) & ~has_messages & ~_awaits_decision(c.team_id, c.channel_id, c.thread_ts, now))
        .limit(limit)
    )
    result = await connection.execute(
        delete(conversations).where(tuple_(c.team_id, c.channel_id, c.thread_ts).in_(idle))
    )
    return result.rowcount


def _awaits_decision(
    team_id: ColumnElement[str], channel_id: ColumnElement[str], thread_ts: ColumnElement[str], now: datetime
) -> ColumnElement[bool]:
    """Whether an approval proposed in this conversation can still be approved (or is approved and not yet written):
    its click continues the conversation, answering the tool_use stored there and naming the people looked up in it.

    NOT IN over the few such approvals is read once per statement; a correlated NOT EXISTS scanned the approvals
    table for every old message on SQLite (no index on these columns). Their NULLs must stay out: one NULL row would
    make NOT IN keep every message.
    """
    a = approvals.c
    awaiting = select(a.conversation_team_id, a.conversation_channel_id, a.conversation_thread_ts).where(
        a.status.in_(("pending", "approved"))
        & (a.expires_at > now)
        & a.conversation_team_id.is_not(None)
        & a.conversation_channel_id.is_not(None)
        & a.conversation_thread_ts.is_not(None)
    )
    return tuple_(team_id, channel_id, thread_ts).in_(awaiting)


async def _delete_approvals(connection: AsyncConnection, cutoff: datetime, now: datetime, limit: int) -> int:
    a = approvals.c
    old = select(a.id).where((a.updated_at < cutoff) & (a.expires_at <= now)).limit(limit)
    result = await connection.execute(delete(approvals).where(a.id.in_(old)))
    return result.rowcount


async def _delete_activity(connection: AsyncConnection, cutoff: datetime, limit: int) -> int:
    old = select(activity.c.id).where(activity.c.created_at < cutoff).limit(limit)
    result = await connection.execute(delete(activity).where(activity.c.id.in_(old)))
    return result.rowcount
