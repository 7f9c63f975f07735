"""Persistence: SQLite (embedded default) or PostgreSQL, via SQLAlchemy async and Alembic."""

from bot.store.activity import ActivityRepository
from bot.store.approvals import ApprovalRepository
from bot.store.conversations import ConversationRepository
from bot.store.deliveries import DeliveryRepository
from bot.store.parked import ParkedRequestRepository
from bot.store.records import (
    APPROVAL_STATUSES,
    ActivityRecord,
    ApprovalRecord,
    ApprovalStatus,
    ConversationKey,
    StoredToken,
    UserRecord,
)
from bot.store.retention import RetentionBatch, RetentionRepository
from bot.store.store import Store
from bot.store.teams import TeamForgotten, TeamRepository
from bot.store.usage import UsageRepository, UsageToday
from bot.store.users import UserRepository

__all__ = [
    "APPROVAL_STATUSES",
    "ActivityRecord",
    "ActivityRepository",
    "ApprovalRecord",
    "ApprovalRepository",
    "ApprovalStatus",
    "ConversationKey",
    "ConversationRepository",
    "DeliveryRepository",
    "ParkedRequestRepository",
    "RetentionBatch",
    "RetentionRepository",
    "Store",
    "StoredToken",
    "TeamForgotten",
    "TeamRepository",
    "UsageRepository",
    "UsageToday",
    "UserRecord",
    "UserRepository",
]
