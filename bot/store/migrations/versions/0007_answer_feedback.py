"""Feedback on agent answers: one verdict per person and answer, the last one clicked.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLACK_ID = sa.String(64)
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "answer_feedback",
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("channel_id", SLACK_ID, nullable=False),
        sa.Column("message_ts", SLACK_ID, nullable=False),
        sa.Column("user_id", SLACK_ID, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("clicked_at", UTC_DATETIME, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "channel_id", "message_ts", "user_id", name=op.f("pk_answer_feedback")),
        sa.CheckConstraint("verdict IN ('helpful', 'not_helpful')", name=op.f("ck_answer_feedback_verdict")),
    )
    op.create_index(op.f("ix_answer_feedback_updated_at"), "answer_feedback", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_answer_feedback_updated_at"), table_name="answer_feedback")
    op.drop_table("answer_feedback")
