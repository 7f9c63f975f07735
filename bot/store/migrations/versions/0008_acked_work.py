"""The work an ack promised, recorded with its delivery claim, under a lease another process can take over.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch.add_column(sa.Column("content_type", sa.String(100), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=True))
    op.create_index("ix_deliveries_state_lease_until", "deliveries", ["state", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_state_lease_until", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        for column in ("facts", "attempts", "lease_until", "owner", "content_type", "payload", "state"):
            batch.drop_column(column)
