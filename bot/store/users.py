"""Slack users, their Rollout subject, default credential and (encrypted) Rollout token."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.records import StoredToken, UserRecord
from bot.store.schema import as_utc, users, utc_now
from bot.store.token_cipher import TokenCipher

logger = logging.getLogger(__name__)


class UserRepository:
    """Users' rows. Every read goes to the database: another process may change a default at any moment, and a stale
    default would send a write to the wrong CRM account."""

    def __init__(self, database: Database, cipher: TokenCipher) -> None:
        self._database = database
        self._cipher = cipher

    async def get_or_create(self, user: SlackUser) -> UserRecord:
        async with self._database.read() as connection:
            row = await _select_user(connection, user)
        if row is None:
            async with self._database.write() as connection:
                await self._ensure_row(connection, user)
                row = await _select_user(connection, user)
        assert row is not None  # the write above guarantees it
        return UserRecord(row.team_id, row.user_id, row.subject, row.default_credential_id)

    async def load_token(self, user: SlackUser) -> StoredToken | None:
        async with self._database.read() as connection:
            row = await _select_user(connection, user)
        if row is None or row.token_ciphertext is None or row.token_expires_at is None:
            return None
        token = self._cipher.decrypt(user, row.token_ciphertext)
        if token is None:
            # Expected after losing an old key: the caller mints a fresh token.
            logger.warning("stored token for %s does not decrypt with the configured keys", user)
            return None
        return StoredToken(token=token, expires_at=row.token_expires_at)

    async def save_token(self, user: SlackUser, token: str, expires_at: datetime) -> None:
        values = {"token_ciphertext": self._cipher.encrypt(user, token), "token_expires_at": as_utc(expires_at)}
        async with self._database.write() as connection:
            await self._ensure_row(connection, user)
            await connection.execute(update(users).where(_is(user)).values(**values, updated_at=utc_now()))

    async def clear_token(self, user: SlackUser) -> None:
        async with self._database.write() as connection:
            await connection.execute(
                update(users)
                .where(_is(user))
                .values(token_ciphertext=None, token_expires_at=None, updated_at=utc_now())
            )

    async def forget_connection(self, user: SlackUser) -> tuple[bool, bool]:
        """Drop the stored Rollout token and the default CRM account: (a token was stored, a default was set).

        The row and its subject stay: the subject is derived from the Slack ids anyway, and a fresh token for it
        is minted on the next command.
        """
        async with self._database.write() as connection:
            row = await _select_user(connection, user)
            if row is None:
                return False, False
            await connection.execute(
                update(users)
                .where(_is(user))
                .values(token_ciphertext=None, token_expires_at=None, default_credential_id=None, updated_at=utc_now())
            )
        return row.token_ciphertext is not None, row.default_credential_id is not None

    async def set_default_credential(self, user: SlackUser, credential_id: str | None) -> None:
        async with self._database.write() as connection:
            await self._ensure_row(connection, user)
            await connection.execute(
                update(users).where(_is(user)).values(default_credential_id=credential_id, updated_at=utc_now())
            )

    async def reencrypt_tokens(self) -> int:
        """Re-encrypt every stored token with the first key; returns how many rows were rewritten."""
        rewritten = 0
        async with self._database.write() as connection:
            rows = await connection.execute(
                select(users.c.team_id, users.c.user_id, users.c.token_ciphertext).where(
                    users.c.token_ciphertext.is_not(None)
                )
            )
            for team_id, user_id, ciphertext in rows.all():
                owner = SlackUser(team_id, user_id)
                reencrypted = self._cipher.reencrypt(ciphertext)
                if reencrypted is None:
                    logger.warning("stored token for %s does not decrypt with the configured keys", owner)
                    continue
                await connection.execute(
                    update(users).where(_is(owner)).values(token_ciphertext=reencrypted, updated_at=utc_now())
                )
                rewritten += 1
        return rewritten

    async def _ensure_row(self, connection: AsyncConnection, user: SlackUser) -> None:
        # Concurrent first requests from one user end up with one row and no error. No conflict target: PostgreSQL
        # may meet the racing row on the subject's unique index first, and the subject is derived from these same ids.
        now = utc_now()
        await connection.execute(
            self._database.insert(users)
            .values(
                team_id=user.team_id,
                user_id=user.user_id,
                subject=user.default_subject,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )


def _is(user: SlackUser) -> ColumnElement[bool]:
    return and_(users.c.team_id == user.team_id, users.c.user_id == user.user_id)


async def _select_user(connection: AsyncConnection, user: SlackUser) -> Row[Any] | None:
    return (await connection.execute(select(users).where(_is(user)))).one_or_none()
