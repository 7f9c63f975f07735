"""The store: one database (SQLite file or PostgreSQL), its repositories and its migrations."""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.activity import ActivityRepository
from bot.store.alembic_runner import upgrade_to_head
from bot.store.approvals import ApprovalRepository
from bot.store.conversations import ConversationRepository
from bot.store.database import Database
from bot.store.deliveries import DeliveryRepository
from bot.store.feedback import FeedbackRepository
from bot.store.follows import FollowRepository
from bot.store.installs import EncryptedInstallationStore, OAuthStateStore
from bot.store.parked import ParkedRequestRepository
from bot.store.retention import RetentionRepository
from bot.store.schedule import DigestSettingsRepository, ReadBudgetRepository, ScheduleRepository
from bot.store.teams import TeamRepository
from bot.store.thread_logs import ThreadLogRepository
from bot.store.token_cipher import TokenCipher
from bot.store.usage import UsageRepository
from bot.store.users import UserRepository


class Store:
    def __init__(self, database: Database, cipher: TokenCipher) -> None:
        self._database = database
        self._cipher = cipher
        self.users = UserRepository(database, cipher)
        self.deliveries = DeliveryRepository(database, cipher)
        self.conversations = ConversationRepository(database)
        self.approvals = ApprovalRepository(database)
        self.parked = ParkedRequestRepository(database)
        self.activity = ActivityRepository(database)
        self.feedback = FeedbackRepository(database)
        self.thread_logs = ThreadLogRepository(database)
        self.retention = RetentionRepository(database)
        self.usage = UsageRepository(database)
        self.teams = TeamRepository(database)
        self.follows = FollowRepository(database, cipher)
        self.schedule = ScheduleRepository(database, cipher)
        self.digest_settings = DigestSettingsRepository(database)
        self.read_budget = ReadBudgetRepository(database)

    @classmethod
    async def open(cls, database_url: str, encryption_keys: Sequence[str]) -> Store:
        """Connect lazily (no I/O yet) and without migrating: call `migrate()` where the app starts.

        `database_url`: sqlite[+aiosqlite]:///path or postgres[ql][+driver]://...; the async driver is chosen here.
        `encryption_keys`: Fernet keys, newest first; the first encrypts, all decrypt.
        """
        cipher = TokenCipher(encryption_keys)
        return cls(Database.connect(database_url), cipher)

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; a no-op when it is already there."""
        await upgrade_to_head(self._database)

    async def reencrypt_tokens(self) -> int:
        """After putting a new key first: rewrite every stored token under it, so old keys can be dropped."""
        return await self.users.reencrypt_tokens()

    def slack_installations(self, client_id: str) -> EncryptedInstallationStore:
        """Where OAuth installs keep their (encrypted) bot tokens: slack_sdk's store on this database."""
        return EncryptedInstallationStore(client_id, self._database, self._cipher)

    def slack_oauth_states(self) -> OAuthStateStore:
        return OAuthStateStore(self._database)

    async def close(self) -> None:
        await self._database.dispose()
