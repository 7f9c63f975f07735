"""Indexes that let retention find old conversations, approvals and activity without scanning whole tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_conversations_updated_at", "conversations", "updated_at"),
    ("ix_conversation_messages_created_at", "conversation_messages", "created_at"),
    ("ix_approvals_updated_at", "approvals", "updated_at"),
    ("ix_activity_created_at", "activity", "created_at"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
