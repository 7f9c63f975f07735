"""The CRM people each user follows, per CRM account, with the overviews their digests compare.

Everything taken from the CRM (the person's name, the overviews) is CRM data: encrypted for its user like the tokens,
so a row copied to another user does not open, and forgotten with /rollout disconnect, an uninstall, or retention.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.sql import ColumnElement

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.schema import as_utc, follows, utc_now
from bot.store.token_cipher import TokenCipher

Gone = Literal["not_found", "account"]
FollowResult = Literal["followed", "already", "full"]


@dataclass(frozen=True, slots=True)
class FollowKey:
    account_id: str  # "" for the user's only or default account
    person_id: str


@dataclass(frozen=True, slots=True)
class FollowRecord:
    key: FollowKey
    person: dict[str, Any] = field(repr=False)  # name, email, url
    reported: dict[str, Any] | None = field(repr=False)  # the overview as the user last saw it in a digest
    latest: dict[str, Any] | None = field(repr=False)  # as it was read last
    latest_at: datetime | None
    gone: Gone | None
    created_at: datetime


class FollowRepository:
    def __init__(self, database: Database, cipher: TokenCipher) -> None:
        self._database = database
        self._cipher = cipher

    async def follow(self, user: SlackUser, key: FollowKey, person: Mapping[str, Any], *, limit: int) -> FollowResult:
        """Follow a person; "full" when the user already follows `limit` people. Following again changes nothing."""
        now = utc_now()
        async with self._database.write() as connection:
            count = (await connection.execute(select(func.count()).select_from(follows).where(_of(user)))).scalar_one()
            exists = (await connection.execute(select(follows.c.person_id).where(_is(user, key)))).first()
            if exists is not None:
                return "already"
            if count >= limit:
                return "full"
            inserted = await connection.execute(
                self._database.insert(follows)
                .values(
                    team_id=user.team_id,
                    user_id=user.user_id,
                    account_id=key.account_id,
                    person_id=key.person_id,
                    person=self._seal(user, person),
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing()
            )
        return "followed" if inserted.rowcount == 1 else "already"

    async def unfollow(self, user: SlackUser, key: FollowKey) -> bool:
        async with self._database.write() as connection:
            return (await connection.execute(delete(follows).where(_is(user, key)))).rowcount == 1

    async def of(self, user: SlackUser) -> list[FollowRecord]:
        """Oldest follow first, as the user added them."""
        query = select(follows).where(_of(user)).order_by(follows.c.created_at, follows.c.person_id)
        async with self._database.read() as connection:
            rows = (await connection.execute(query)).all()
        return [self._record(user, row) for row in rows]

    async def is_following(self, user: SlackUser, key: FollowKey) -> bool:
        async with self._database.read() as connection:
            return (await connection.execute(select(follows.c.person_id).where(_is(user, key)))).first() is not None

    async def read(
        self,
        user: SlackUser,
        key: FollowKey,
        latest: Mapping[str, Any] | None,
        at: datetime,
        *,
        person: Mapping[str, Any] | None = None,
        gone: Gone | None = None,
    ) -> None:
        """Keep a fresh read of a followed person (or that they are gone); the first read is also the baseline."""
        values: dict[str, Any] = {"latest_at": as_utc(at), "updated_at": utc_now(), "gone": gone}
        if latest is not None:
            sealed = self._seal(user, latest)
            values["latest"] = sealed
        if person is not None:
            values["person"] = self._seal(user, person)
        async with self._database.write() as connection:
            await connection.execute(update(follows).where(_is(user, key)).values(**values))
            if latest is not None:
                # Never read before (or forgotten by retention): this read is what the next digest compares with.
                await connection.execute(
                    update(follows).where(_is(user, key) & follows.c.reported.is_(None)).values(reported=sealed)
                )

    async def mark_reported(self, user: SlackUser, keys: Iterable[FollowKey]) -> int:
        """The user has seen these as they were last read: they become the next digest's baseline, and the people
        reported gone are unfollowed. Returns how many were unfollowed."""
        wanted = [_is(user, key) for key in keys]
        if not wanted:
            return 0
        chosen = or_(*wanted)
        async with self._database.write() as connection:
            unfollowed = await connection.execute(delete(follows).where(chosen & follows.c.gone.is_not(None)))
            await connection.execute(
                update(follows)
                .where(chosen & follows.c.latest.is_not(None))
                .values(reported=follows.c.latest, updated_at=utc_now())
            )
        return unfollowed.rowcount

    async def forget(self, user: SlackUser) -> int:
        async with self._database.write() as connection:
            return (await connection.execute(delete(follows).where(_of(user)))).rowcount

    async def forget_account(self, user: SlackUser, account_id: str) -> int:
        async with self._database.write() as connection:
            return (
                await connection.execute(delete(follows).where(_of(user) & (follows.c.account_id == account_id)))
            ).rowcount

    async def forget_overviews(self, older_than: datetime) -> int:
        """Retention: overviews read before `older_than` go (the follow stays; the next read starts a new baseline)."""
        async with self._database.write() as connection:
            result = await connection.execute(
                update(follows)
                .where(follows.c.latest_at < as_utc(older_than))
                .values(reported=None, latest=None, latest_at=None, updated_at=utc_now())
            )
        return result.rowcount

    async def followers(self) -> list[SlackUser]:
        """Everyone following someone: whose digests the scheduler plans."""
        query = select(follows.c.team_id, follows.c.user_id).distinct()
        async with self._database.read() as connection:
            return [SlackUser(row.team_id, row.user_id) for row in (await connection.execute(query)).all()]

    def _seal(self, user: SlackUser, value: Mapping[str, Any]) -> str:
        return self._cipher.encrypt(user, json.dumps(value, ensure_ascii=False, sort_keys=True))

    def _open(self, user: SlackUser, sealed: str | None) -> dict[str, Any] | None:
        if sealed is None:
            return None
        plain = self._cipher.decrypt(user, sealed)
        if plain is None:  # no configured key opens it any more: as if never read
            return None
        value = json.loads(plain)
        return value if isinstance(value, dict) else None

    def _record(self, user: SlackUser, row: Any) -> FollowRecord:
        return FollowRecord(
            key=FollowKey(row.account_id, row.person_id),
            person=self._open(user, row.person) or {},
            reported=self._open(user, row.reported),
            latest=self._open(user, row.latest),
            latest_at=row.latest_at,
            gone=row.gone,
            created_at=row.created_at,
        )


def _of(user: SlackUser) -> ColumnElement[bool]:
    return and_(follows.c.team_id == user.team_id, follows.c.user_id == user.user_id)


def _is(user: SlackUser, key: FollowKey) -> ColumnElement[bool]:
    return _of(user) & (follows.c.account_id == key.account_id) & (follows.c.person_id == key.person_id)
