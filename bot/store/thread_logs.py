"""Which Slack threads were saved to the CRM, and up to which message: finished thread saves in the approvals table."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.database import Database
from bot.store.records import ConversationKey
from bot.store.schema import approvals

THREAD_SAVE_TOOL = "slack.thread_to_crm"  # the approvals' tool_name for thread saves (bot/threads.py)


class ThreadLogRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def last_logged(self, thread: ConversationKey) -> str | None:
        """The newest message ts covered by a finished save of this thread, or None when it was never saved."""
        query = (
            select(approvals.c.arguments)
            .where(
                (approvals.c.tool_name == THREAD_SAVE_TOOL)
                & (approvals.c.status == "done")
                & (approvals.c.conversation_team_id == thread.team_id)
                & (approvals.c.conversation_channel_id == thread.channel_id)
                & (approvals.c.conversation_thread_ts == thread.thread_ts)
            )
            .order_by(approvals.c.updated_at.desc())
        )
        async with self._database.read() as connection:
            rows = (await connection.execute(query)).scalars().all()
        covered = [str(arguments.get("last_ts")) for arguments in rows if isinstance(arguments, dict)]
        return max(covered, key=float, default=None) if covered else None
