"""What each person saved of each thread to each CRM account, kept apart from the approvals retention deletes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THREAD_SAVE_TOOL = "slack.thread_to_crm"


def upgrade() -> None:
    thread_saves = op.create_table(
        "thread_saves",
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(255), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(64), nullable=False),
        sa.Column("last_ts", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "team_id", "user_id", "account_id", "channel_id", "thread_ts", name=op.f("pk_thread_saves")
        ),
    )
    assert thread_saves is not None
    # The saves finished so far become marks: each requester's newest, per account and thread.
    approvals = sa.table(
        "approvals",
        sa.column("team_id", sa.String),
        sa.column("user_id", sa.String),
        sa.column("tool_name", sa.String),
        sa.column("status", sa.String),
        sa.column("arguments", sa.JSON),
        sa.column("conversation_channel_id", sa.String),
        sa.column("conversation_thread_ts", sa.String),
    )
    users = sa.table(
        "users", sa.column("team_id", sa.String), sa.column("user_id", sa.String), sa.column("default_credential_id")
    )
    # A person found without a named account was found in the requester's default one, as the app keys it now.
    done = (
        sa.select(approvals, users.c.default_credential_id)
        .select_from(
            approvals.outerjoin(
                users, (users.c.team_id == approvals.c.team_id) & (users.c.user_id == approvals.c.user_id)
            )
        )
        .where((approvals.c.tool_name == THREAD_SAVE_TOOL) & (approvals.c.status == "done"))
    )
    newest: dict[tuple[str, str, str, str, str], str] = {}
    for row in op.get_bind().execute(done):
        arguments: dict[str, Any] = row.arguments if isinstance(row.arguments, dict) else {}
        person = arguments.get("person") if isinstance(arguments.get("person"), dict) else {}
        last_ts = str(arguments.get("last_ts") or "")
        if not last_ts or not row.conversation_channel_id or not row.conversation_thread_ts:
            continue
        account = str((person or {}).get("credential_id") or row.default_credential_id or "")
        key = (row.team_id, row.user_id, account, row.conversation_channel_id, row.conversation_thread_ts)
        if key not in newest or float(last_ts) > float(newest[key]):
            newest[key] = last_ts
    now = datetime.now(UTC)
    rows = [
        {
            "team_id": t,
            "user_id": u,
            "account_id": a,
            "channel_id": c,
            "thread_ts": ts,
            "last_ts": last,
            "updated_at": now,
        }
        for (t, u, a, c, ts), last in newest.items()
    ]
    if rows:
        op.bulk_insert(thread_saves, rows)


def downgrade() -> None:
    op.drop_table("thread_saves")
