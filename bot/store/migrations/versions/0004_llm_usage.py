"""Model tokens used per user and UTC day, for the daily per-user and per-workspace budgets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_usage",
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", "day", name=op.f("pk_llm_usage")),
    )
    op.create_index(op.f("ix_llm_usage_day"), "llm_usage", ["day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_llm_usage_day"), table_name="llm_usage")
    op.drop_table("llm_usage")
