"""Slack users, their Rollout subject, default credential and (encrypted) Rollout token."""

from __future__ import annotations

import logging
from collections import OrderedDict
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

# Users whose records one process remembers on SQLite, the least recently used forgotten first (they are read again
# when they come back): a record is a few hundred bytes, so this bounds the memory at a few MB.
REMEMBERED_USERS = 10_000


class UserRepository:
    """Users' rows; on SQLite also the records read so far, since every command reads its user's default account.

    SQLite serves one process, so its users' rows change only through this repository (and TeamRepository.forget,
    which calls `drop_remembered_team`): a remembered record stays true until a write here drops it. On PostgreSQL
    several processes share the rows and another one may change a default at any moment, so every read goes to the
    database: a stale default would send a write to the wrong CRM account.
    """

    def __init__(self, database: Database, cipher: TokenCipher, *, remember_at_most: int = REMEMBERED_USERS) -> None:
        self._database = database
        self._cipher = cipher
        self._remembered: OrderedDict[SlackUser, UserRecord] | None = OrderedDict() if database.single_process else None
        self._remember_at_most = remember_at_most
        self._writes = 0  # bumped after each write, so a read that overlapped one is not remembered

    async def get_or_create(self, user: SlackUser) -> UserRecord:
        if self._remembered is not None and (remembered := self._remembered.get(user)) is not None:
            self._remembered.move_to_end(user)
            return remembered
        writes_before = self._writes
        async with self._database.read() as connection:
            row = await _select_user(connection, user)
        if row is None:
            async with self._database.write() as connection:
                await self._ensure_row(connection, user)
                row = await _select_user(connection, user)
        assert row is not None  # the write above guarantees it
        record = UserRecord(row.team_id, row.user_id, row.subject, row.default_credential_id)
        if self._remembered is not None and self._writes == writes_before:
            self._remembered[user] = record
            if len(self._remembered) > self._remember_at_most:
                self._remembered.popitem(last=False)
        return record

    def drop_remembered_team(self, team_id: str) -> None:
        """After the team's rows were deleted elsewhere in this process."""
        self._writes += 1
        if self._remembered:
            for user in [user for user in self._remembered if user.team_id == team_id]:
                del self._remembered[user]

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
        try:
            async with self._database.write() as connection:
                row = await _select_user(connection, user)
                if row is None:
                    return False, False
                await connection.execute(
                    update(users)
                    .where(_is(user))
                    .values(
                        token_ciphertext=None, token_expires_at=None, default_credential_id=None, updated_at=utc_now()
                    )
                )
        finally:
            self._changed(user)
        return row.token_ciphertext is not None, row.default_credential_id is not None

    async def set_default_credential(self, user: SlackUser, credential_id: str | None) -> None:
        try:
            async with self._database.write() as connection:
                await self._ensure_row(connection, user)
                await connection.execute(
                    update(users).where(_is(user)).values(default_credential_id=credential_id, updated_at=utc_now())
                )
        finally:
            self._changed(user)

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

    def _changed(self, user: SlackUser) -> None:
        # After the write has committed (or failed): a read that began before it and ends after sees the bump and
        # keeps its record to itself; one that begins after it reads the new row.
        self._writes += 1
        if self._remembered is not None:
            self._remembered.pop(user, None)

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
