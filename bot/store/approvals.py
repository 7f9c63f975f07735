"""Writes the LLM proposed, waiting for the requester to approve or cancel them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.records import APPROVAL_STATUSES, ApprovalRecord, ConversationKey
from bot.store.schema import approvals, as_utc, utc_now


class ApprovalRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def create(
        self,
        requester: SlackUser,
        tool_name: str,
        arguments: dict[str, Any],
        summary: str,
        conversation: ConversationKey | None,
        expires_at: datetime,
    ) -> ApprovalRecord:
        now = utc_now()
        values = {
            "id": uuid.uuid4().hex,
            "team_id": requester.team_id,
            "user_id": requester.user_id,
            "tool_name": tool_name,
            "arguments": arguments,
            "summary": summary,
            "status": "pending",
            "conversation_team_id": conversation.team_id if conversation else None,
            "conversation_channel_id": conversation.channel_id if conversation else None,
            "conversation_thread_ts": conversation.thread_ts if conversation else None,
            "expires_at": as_utc(expires_at),
            "created_at": now,
            "updated_at": now,
        }
        async with self._database.write() as connection:
            row = (await connection.execute(approvals.insert().values(**values).returning(*approvals.c))).one()
        return _to_record(row)

    async def get(self, approval_id: str) -> ApprovalRecord | None:
        async with self._database.read() as connection:
            row = (await connection.execute(select(approvals).where(approvals.c.id == approval_id))).one_or_none()
        return None if row is None else _to_record(row)

    async def transition(self, approval_id: str, *, from_status: str, to_status: str, now: datetime) -> bool:
        """Compare-and-set the status; True only for the one caller whose UPDATE matched the row."""
        for status in (from_status, to_status):
            if status not in APPROVAL_STATUSES:
                raise ValueError(f"unknown approval status {status!r}")
        condition = (approvals.c.id == approval_id) & (approvals.c.status == from_status)
        if to_status == "approved":
            condition &= approvals.c.expires_at > as_utc(now)
        if from_status == "approved" and to_status in ("cancelled", "expired"):
            condition &= approvals.c.write_started_at.is_(None)  # once the write is under way, only its end counts
        async with self._database.write() as connection:
            result = await connection.execute(
                update(approvals).where(condition).values(status=to_status, updated_at=utc_now())
            )
        return result.rowcount == 1

    async def claim_write(self, approval_id: str, now: datetime) -> bool:
        """The one caller that may send the approved write to Rollout: approved, unexpired, and nobody started it.

        The claim lives on the approval itself, so it is never pruned: a click days later can't write again.
        """
        condition = (
            (approvals.c.id == approval_id)
            & (approvals.c.status == "approved")
            & approvals.c.write_started_at.is_(None)
            & (approvals.c.expires_at > as_utc(now))
        )
        async with self._database.write() as connection:
            result = await connection.execute(
                update(approvals).where(condition).values(write_started_at=as_utc(now), updated_at=utc_now())
            )
        return result.rowcount == 1

    async def release_write(self, approval_id: str) -> None:
        """Rollout certainly didn't write it (the call never ran): the next Approve may try again."""
        async with self._database.write() as connection:
            await connection.execute(
                update(approvals)
                .where((approvals.c.id == approval_id) & (approvals.c.status == "approved"))
                .values(write_started_at=None, updated_at=utc_now())
            )

    async def update_arguments(self, approval_id: str, arguments: dict[str, Any], summary: str) -> bool:
        """Replace what will be written, as long as nobody approved or cancelled it yet."""
        async with self._database.write() as connection:
            result = await connection.execute(
                update(approvals)
                .where((approvals.c.id == approval_id) & (approvals.c.status == "pending"))
                .values(arguments=arguments, summary=summary, updated_at=utc_now())
            )
        return result.rowcount == 1

    async def set_message(self, approval_id: str, channel_id: str, message_ts: str) -> None:
        async with self._database.write() as connection:
            await connection.execute(
                update(approvals)
                .where(approvals.c.id == approval_id)
                .values(channel_id=channel_id, message_ts=message_ts, updated_at=utc_now())
            )

    async def set_result(self, approval_id: str, result: dict[str, Any]) -> None:
        async with self._database.write() as connection:
            await connection.execute(
                update(approvals).where(approvals.c.id == approval_id).values(result=result, updated_at=utc_now())
            )


def _to_record(row: Row[Any]) -> ApprovalRecord:
    conversation = (
        ConversationKey(row.conversation_team_id, row.conversation_channel_id, row.conversation_thread_ts)
        if row.conversation_team_id is not None
        else None
    )
    return ApprovalRecord(
        id=row.id,
        requester=SlackUser(row.team_id, row.user_id),
        tool_name=row.tool_name,
        arguments=row.arguments,
        summary=row.summary,
        status=row.status,
        conversation=conversation,
        channel_id=row.channel_id,
        message_ts=row.message_ts,
        expires_at=row.expires_at,
        result=row.result,
        write_started=row.write_started_at is not None,
    )
