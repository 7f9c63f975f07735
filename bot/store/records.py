"""Values the repositories hand out. CRM text stays out of repr so a stray log line cannot leak it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.identity import SlackUser

# Also enforced by the ck_approvals_status constraint: a change here needs a migration.
ApprovalStatus = Literal["pending", "approved", "cancelled", "expired", "done", "failed"]
APPROVAL_STATUSES: tuple[ApprovalStatus, ...] = ("pending", "approved", "cancelled", "expired", "done", "failed")


@dataclass(frozen=True, slots=True)
class UserRecord:
    team_id: str
    user_id: str
    subject: str
    default_credential_id: str | None


@dataclass(frozen=True, slots=True)
class StoredToken:
    token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationKey:
    team_id: str
    channel_id: str
    thread_ts: str


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    id: str
    requester: SlackUser
    tool_name: str
    arguments: dict[str, Any] = field(repr=False)
    summary: str = field(repr=False)
    status: ApprovalStatus
    conversation: ConversationKey | None
    channel_id: str | None
    message_ts: str | None
    expires_at: datetime
    result: dict[str, Any] | None = field(repr=False)
    write_started: bool = False  # a process began sending the write to Rollout


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    text: str = field(repr=False)
    created_at: datetime
