"""What each person saved of each Slack thread to each of their CRM accounts: the newest message a save covered.

Kept apart from the approvals that made the saves: those hold the note's text and go with retention, while this
holds only ids and a timestamp and must outlive them, or a later save of the thread would write the note again.
"""

from __future__ import annotations

from sqlalchemy import Numeric, cast, select

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.schema import thread_saves, utc_now

THREAD_SAVE_TOOL = "slack.thread_to_crm"  # the approvals' tool_name for thread saves (bot/thread_saves.py)
DEFAULT_ACCOUNT = ""  # the key for "the user's only or default account" when Rollout named none


class ThreadLogRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def last_logged(self, user: SlackUser, account_id: str | None, channel_id: str, thread_ts: str) -> str | None:
        """The newest message ts `user`'s saves of this thread to this account covered, or None when never saved."""
        t = thread_saves.c
        query = select(t.last_ts).where(
            (t.team_id == user.team_id)
            & (t.user_id == user.user_id)
            & (t.account_id == (account_id or DEFAULT_ACCOUNT))
            & (t.channel_id == channel_id)
            & (t.thread_ts == thread_ts)
        )
        async with self._database.read() as connection:
            return (await connection.execute(query)).scalar_one_or_none()

    async def mark_logged(
        self, user: SlackUser, account_id: str | None, channel_id: str, thread_ts: str, last_ts: str
    ) -> None:
        """Remember that the thread is saved up to `last_ts`; an older mark arriving late never moves it back."""
        t = thread_saves.c
        now = utc_now()
        insert = self._database.insert(thread_saves).values(
            team_id=user.team_id,
            user_id=user.user_id,
            account_id=account_id or DEFAULT_ACCOUNT,
            channel_id=channel_id,
            thread_ts=thread_ts,
            last_ts=last_ts,
            updated_at=now,
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[t.team_id, t.user_id, t.account_id, t.channel_id, t.thread_ts],
            set_={"last_ts": insert.excluded.last_ts, "updated_at": now},
            where=cast(t.last_ts, Numeric) < cast(insert.excluded.last_ts, Numeric),  # Slack ts compare as numbers
        )
        async with self._database.write() as connection:
            await connection.execute(upsert)
