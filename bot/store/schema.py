"""Table definitions. Alembic migrations create them; this module is what the code and autogenerate compare against."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.sql import func
from sqlalchemy.types import TypeDecorator

from bot.store.records import APPROVAL_STATUSES

# Deterministic constraint names, so later migrations can refer to (and drop) them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SLACK_ID = String(64)


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The one rule for datetimes crossing the store boundary: timezone-aware, expressed in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes passed to the store must be timezone-aware")
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, also on SQLite, which stores them as naive text."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite compares the stored text; dropping the (always UTC) offset keeps that comparison chronological.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamps() -> list[Column[Any]]:
    return [
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    ]


metadata = MetaData(naming_convention=NAMING_CONVENTION)

users = Table(
    "users",
    metadata,
    Column("team_id", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("subject", String(255), nullable=False),
    Column("default_credential_id", String(255), nullable=True),
    Column("token_ciphertext", Text, nullable=True),
    Column("token_expires_at", UtcDateTime(), nullable=True),
    *_timestamps(),
    PrimaryKeyConstraint("team_id", "user_id"),
    # Two Slack users sharing a Rollout subject would share CRM access.
    UniqueConstraint("subject"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("key_digest", String(64), nullable=False),
    Column("claimed_at", UtcDateTime(), nullable=False, index=True),
    # The work an ack promised, recorded with its claim so another process can finish it (bot/work.py):
    Column("state", String(16), nullable=True),  # running, done, failed; None: a claim with no work to recover
    Column("payload", Text, nullable=True),  # the Slack request, encrypted: it can hold people's words and CRM text
    Column("content_type", String(100), nullable=True),
    Column("owner", String(32), nullable=True),  # the process running it
    Column("lease_until", UtcDateTime(), nullable=True),  # renewed while it runs; past it, any process takes over
    Column("attempts", Integer, nullable=True),
    Column("facts", JSON(none_as_null=True), nullable=True),  # what it did so far: a write sent, a message posted
    PrimaryKeyConstraint("key_digest"),
    Index("ix_deliveries_state_lease_until", "state", "lease_until"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("team_id", SLACK_ID, nullable=False),
    Column("channel_id", SLACK_ID, nullable=False),
    Column("thread_ts", SLACK_ID, nullable=False),
    Column("next_seq", Integer, nullable=False),
    Column("user_id", SLACK_ID, nullable=True),  # who started it: what "forget my conversations" deletes
    *_timestamps(),
    PrimaryKeyConstraint("team_id", "channel_id", "thread_ts"),
    Index(None, "updated_at"),  # retention finds idle threads by it
    Index("ix_conversations_team_id_user_id", "team_id", "user_id"),
)

conversation_messages = Table(
    "conversation_messages",
    metadata,
    Column("team_id", SLACK_ID, nullable=False),
    Column("channel_id", SLACK_ID, nullable=False),
    Column("thread_ts", SLACK_ID, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("message", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("team_id", "channel_id", "thread_ts", "seq"),
    Index(None, "created_at"),  # retention deletes the oldest messages first
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(32), nullable=False),
    Column("team_id", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("tool_name", String(255), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("summary", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("conversation_team_id", SLACK_ID, nullable=True),
    Column("conversation_channel_id", SLACK_ID, nullable=True),
    Column("conversation_thread_ts", SLACK_ID, nullable=True),
    Column("channel_id", SLACK_ID, nullable=True),
    Column("message_ts", SLACK_ID, nullable=True),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("result", JSON(none_as_null=True), nullable=True),
    Column("write_started_at", UtcDateTime(), nullable=True),  # set once, by the one process that calls Rollout
    *_timestamps(),
    PrimaryKeyConstraint("id"),
    Index(None, "updated_at"),  # retention finds decided approvals by it
    CheckConstraint("status IN ({})".format(", ".join(f"'{status}'" for status in APPROVAL_STATUSES)), name="status"),
)

parked_requests = Table(
    "parked_requests",
    metadata,
    Column("id", String(32), nullable=False),
    Column("team_id", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("id"),
)

activity = Table(
    "activity",
    metadata,
    Column("id", Integer, autoincrement=True, nullable=False),
    Column("team_id", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("id"),
    Index(None, "team_id", "user_id", "created_at"),
    Index(None, "created_at"),  # retention, across all users
)

answer_feedback = Table(
    "answer_feedback",
    metadata,
    # The answer: the message the feedback buttons are under.
    Column("team_id", SLACK_ID, nullable=False),
    Column("channel_id", SLACK_ID, nullable=False),
    Column("message_ts", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("clicked_at", UtcDateTime(), nullable=False),  # Slack's action_ts of the click the verdict is from
    *_timestamps(),
    PrimaryKeyConstraint("team_id", "channel_id", "message_ts", "user_id"),  # one verdict per person and answer
    Index(None, "updated_at"),  # for retention
    CheckConstraint("verdict IN ('helpful', 'not_helpful')", name="verdict"),
)

llm_usage = Table(
    "llm_usage",
    metadata,
    Column("team_id", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("day", Date, nullable=False),  # the UTC day the budget counts for
    Column("tokens", BigInteger, nullable=False),  # weighted: see bot/agent/budget.py
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("team_id", "user_id", "day"),
    Index(None, "day"),  # pruning old days
)


thread_saves = Table(
    "thread_saves",
    metadata,
    Column("team_id", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("account_id", String(255), nullable=False),  # the CRM credential; "" for the user's only or default one
    Column("channel_id", SLACK_ID, nullable=False),
    Column("thread_ts", SLACK_ID, nullable=False),
    Column("last_ts", SLACK_ID, nullable=False),  # the newest message saved: the next save starts after it
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("team_id", "user_id", "account_id", "channel_id", "thread_ts"),
)


follows = Table(
    "follows",
    metadata,
    Column("team_id", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("account_id", String(255), nullable=False),  # the CRM credential; "" for the user's only or default one
    Column("person_id", String(255), nullable=False),  # an id means something only in its account
    # CRM data, each encrypted for its user like the tokens: who (name, email, link), for the list; the overview as the
    # user last saw it in a digest, and as it was read last; what to report once before unfollowing.
    Column("person", Text, nullable=False),
    Column("reported", Text, nullable=True),
    Column("latest", Text, nullable=True),
    Column("latest_at", UtcDateTime(), nullable=True),
    Column("gone", String(16), nullable=True),  # "not_found" | "account": said in the next digest, then unfollowed
    *_timestamps(),
    PrimaryKeyConstraint("team_id", "user_id", "account_id", "person_id"),
    Index(None, "latest_at"),  # retention forgets old overviews by it
)

digest_settings = Table(
    "digest_settings",
    metadata,
    Column("team_id", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("time_zone", String(64), nullable=True),  # Slack's users.info tz, e.g. "America/Los_Angeles"
    Column("time_zone_checked_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("team_id", "user_id"),
)

scheduled_work = Table(
    "scheduled_work",
    metadata,
    # Work due at a time rather than on a Slack request (bot/schedule.py): morning digests and task reminders. The key
    # makes each digest and each reminder one row, whoever schedules it how often.
    Column("key_digest", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("team_id", SLACK_ID, nullable=False),
    Column("user_id", SLACK_ID, nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("state", String(16), nullable=False),  # pending, running, done, dismissed, cancelled
    Column("owner", String(32), nullable=True),  # the process running it, under a lease as acked work is
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("payload", Text, nullable=True),  # encrypted for its user: reminders name a person and a task
    Column("facts", JSON(none_as_null=True), nullable=True),  # what it did so far: read, sending
    *_timestamps(),
    PrimaryKeyConstraint("key_digest"),
    Index("ix_scheduled_work_state_due_at", "state", "due_at"),
    Index("ix_scheduled_work_team_id_user_id", "team_id", "user_id"),
    Index(None, "updated_at"),  # pruning finished work
)

rollout_read_budget = Table(
    "rollout_read_budget",
    metadata,
    # Overviews scheduled work read per workspace and minute, shared by every process (DIGEST_OVERVIEWS_PER_MINUTE).
    Column("team_id", SLACK_ID, nullable=False),
    Column("minute", UtcDateTime(), nullable=False),
    Column("reads", Integer, nullable=False),
    PrimaryKeyConstraint("team_id", "minute"),
    Index(None, "minute"),
)


# ---- Slack installations (OAuth): the tables slack_sdk's SQLAlchemy stores use, under our migrations ----------------
# Same names and columns as slack_sdk's, except that tokens are Text: they are stored encrypted (bot/store/installs.py),
# and a ciphertext is longer than the 200 characters slack_sdk allows for a plain token.


def _installed_at() -> Column[Any]:
    return Column("installed_at", DateTime, nullable=False, default=func.now())


slack_installations = Table(
    "slack_installations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", Text),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", Text),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", Text),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", Text),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", Text),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    _installed_at(),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)

slack_bots = Table(
    "slack_bots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", Text),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", Text),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    _installed_at(),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
