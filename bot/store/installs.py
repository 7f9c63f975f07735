"""Slack installations (OAuth) in the project's database: slack_sdk's async SQLAlchemy stores on our own tables
(bot/store/schema.py, created by our migrations), with every token encrypted like the Rollout tokens."""

from __future__ import annotations

import copy
import logging
from typing import Any, TypeVar

from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, Table, desc, select

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.schema import slack_bots, slack_installations, slack_oauth_states
from bot.store.token_cipher import TokenCipher

log = logging.getLogger(__name__)

_TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
# Fernet tokens start with the version byte 0x80, "gAAAAA" in base64; Slack tokens start with "xox". So a value
# that is already sealed is recognised and never encrypted twice (slack_sdk saves an installation's bot again).
_SEALED_PREFIX = "gAAAAA"

Entity = TypeVar("Entity", Bot, Installation)


class EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store, unchanged in behaviour, but tokens are encrypted at rest, bound to their workspace."""

    def __init__(self, client_id: str, database: Database, cipher: TokenCipher) -> None:
        super().__init__(client_id=client_id, engine=database.engine, logger=log)
        self._cipher = cipher

    @classmethod
    def build_installations_table(cls, metadata: MetaData, table_name: str) -> Table:
        return slack_installations  # ours, under Alembic; slack_sdk's own would be created by create_tables()

    @classmethod
    def build_bots_table(cls, metadata: MetaData, table_name: str) -> Table:
        return slack_bots

    async def async_save(self, installation: Installation) -> None:
        await super().async_save(self._sealed(installation))

    async def async_save_bot(self, bot: Bot) -> None:
        await super().async_save_bot(self._sealed(bot))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        found = await super().async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return None if found is None else self._opened(found)

    async def async_enterprise_of(self, team_id: str) -> str | None:
        """The Enterprise Grid organisation a workspace's install belongs to, if any: people are keyed by their
        workspace (bot.identity), while slack_sdk finds such a workspace's bot by organisation and workspace
        together."""
        c = slack_bots.c
        query = (
            select(c.enterprise_id)
            .where((c.client_id == self.client_id) & (c.team_id == team_id) & c.enterprise_id.is_not(None))
            .order_by(desc(c.installed_at))
            .limit(1)
        )
        async with self.engine.connect() as connection:
            return (await connection.execute(query)).scalar_one_or_none()

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = await super().async_find_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, is_enterprise_install=is_enterprise_install
        )
        return None if found is None else self._opened(found)

    def _owner(self, entity: Bot | Installation) -> SlackUser:
        # Bound to the workspace (or organisation): a row copied to another workspace does not decrypt there.
        return SlackUser(f"{entity.enterprise_id or '-'}:{entity.team_id or '-'}", "slack-installation")

    def _sealed(self, entity: Entity) -> Entity:
        sealed = copy.copy(entity)
        for name in _TOKEN_FIELDS:
            value: Any = getattr(sealed, name, None)
            if isinstance(value, str) and value and not value.startswith(_SEALED_PREFIX):
                setattr(sealed, name, self._cipher.encrypt(self._owner(entity), value))
        return sealed

    def _opened(self, entity: Entity) -> Entity:
        for name in _TOKEN_FIELDS:
            value: Any = getattr(entity, name, None)
            if isinstance(value, str) and value:
                plain = self._cipher.decrypt(self._owner(entity), value)
                if plain is None:
                    log.warning("a stored Slack token of %s does not decrypt with the configured keys", entity.team_id)
                setattr(entity, name, plain)
        return entity


class OAuthStateStore(AsyncSQLAlchemyOAuthStateStore):
    """slack_sdk's state store on our own (migrated) table: a state is used once, across processes."""

    def __init__(self, database: Database, expiration_seconds: int = 600) -> None:
        super().__init__(expiration_seconds=expiration_seconds, engine=database.engine, logger=log)

    @classmethod
    def build_oauth_states_table(cls, metadata: MetaData, table_name: str) -> Table:
        return slack_oauth_states
