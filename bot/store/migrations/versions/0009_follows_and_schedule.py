"""Following CRM people, morning digests and task reminders: what is followed, digest settings, scheduled work and the
shared budget of scheduled Rollout reads.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(255), nullable=False),
        sa.Column("person_id", sa.String(255), nullable=False),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("reported", sa.Text(), nullable=True),
        sa.Column("latest", sa.Text(), nullable=True),
        sa.Column("latest_at", _WHEN, nullable=True),
        sa.Column("gone", sa.String(16), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", "account_id", "person_id", name="pk_follows"),
    )
    op.create_index("ix_follows_latest_at", "follows", ["latest_at"])
    op.create_table(
        "digest_settings",
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("time_zone_checked_at", _WHEN, nullable=True),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_digest_settings"),
    )
    op.create_table(
        "scheduled_work",
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("due_at", _WHEN, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(32), nullable=True),
        sa.Column("lease_until", _WHEN, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("key_digest", name="pk_scheduled_work"),
    )
    op.create_index("ix_scheduled_work_state_due_at", "scheduled_work", ["state", "due_at"])
    op.create_index("ix_scheduled_work_team_id_user_id", "scheduled_work", ["team_id", "user_id"])
    op.create_index("ix_scheduled_work_updated_at", "scheduled_work", ["updated_at"])
    op.create_table(
        "rollout_read_budget",
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("minute", _WHEN, nullable=False),
        sa.Column("reads", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "minute", name="pk_rollout_read_budget"),
    )
    op.create_index("ix_rollout_read_budget_minute", "rollout_read_budget", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_rollout_read_budget_minute", table_name="rollout_read_budget")
    op.drop_table("rollout_read_budget")
    for index in (
        "ix_scheduled_work_updated_at",
        "ix_scheduled_work_team_id_user_id",
        "ix_scheduled_work_state_due_at",
    ):
        op.drop_index(index, table_name="scheduled_work")
    op.drop_table("scheduled_work")
    op.drop_table("digest_settings")
    op.drop_index("ix_follows_latest_at", table_name="follows")
    op.drop_table("follows")
