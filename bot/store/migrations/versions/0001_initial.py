"""Initial schema: users, deliveries, conversations, approvals, parked requests, activity.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLACK_ID = sa.String(64)
UTC_DATETIME = sa.DateTime(timezone=True)
APPROVAL_STATUSES = ("pending", "approved", "cancelled", "expired", "done", "failed")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("user_id", SLACK_ID, nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("default_credential_id", sa.String(255), nullable=True),
        sa.Column("token_ciphertext", sa.Text(), nullable=True),
        sa.Column("token_expires_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("subject", name=op.f("uq_users_subject")),
    )
    op.create_table(
        "deliveries",
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("key_digest", name=op.f("pk_deliveries")),
    )
    op.create_index(op.f("ix_deliveries_claimed_at"), "deliveries", ["claimed_at"])
    op.create_table(
        "conversations",
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("channel_id", SLACK_ID, nullable=False),
        sa.Column("thread_ts", SLACK_ID, nullable=False),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "channel_id", "thread_ts", name=op.f("pk_conversations")),
    )
    op.create_table(
        "conversation_messages",
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("channel_id", SLACK_ID, nullable=False),
        sa.Column("thread_ts", SLACK_ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "channel_id", "thread_ts", "seq", name=op.f("pk_conversation_messages")),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("user_id", SLACK_ID, nullable=False),
        sa.Column("tool_name", sa.String(255), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conversation_team_id", SLACK_ID, nullable=True),
        sa.Column("conversation_channel_id", SLACK_ID, nullable=True),
        sa.Column("conversation_thread_ts", SLACK_ID, nullable=True),
        sa.Column("channel_id", SLACK_ID, nullable=True),
        sa.Column("message_ts", SLACK_ID, nullable=True),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.CheckConstraint(
            "status IN ({})".format(", ".join(f"'{status}'" for status in APPROVAL_STATUSES)),
            name=op.f("ck_approvals_status"),
        ),
    )
    op.create_table(
        "parked_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("user_id", SLACK_ID, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_requests")),
    )
    op.create_index(op.f("ix_parked_requests_expires_at"), "parked_requests", ["expires_at"])
    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("user_id", SLACK_ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
    )
    op.create_index(op.f("ix_activity_team_id"), "activity", ["team_id", "user_id", "created_at"])


def downgrade() -> None:
    op.drop_table("activity")
    op.drop_table("parked_requests")
    op.drop_table("approvals")
    op.drop_table("conversation_messages")
    op.drop_table("conversations")
    op.drop_table("deliveries")
    op.drop_table("users")
