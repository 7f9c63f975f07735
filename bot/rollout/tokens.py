"""Rollout auth tokens: HS512 JWTs the app mints per user, stored encrypted, reused until shortly before expiry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import jwt
from cachetools import LRUCache

from bot.identity import SlackUser

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str = field(repr=False)
    expires_at: datetime


class _Subject(Protocol):
    @property
    def subject(self) -> str: ...


class _Stored(Protocol):
    @property
    def token(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...


class TokenStore(Protocol):
    """What TokenService needs from the store; bot.store's UserRepository is the real one."""

    async def get_or_create(self, user: SlackUser) -> _Subject: ...
    async def load_token(self, user: SlackUser) -> _Stored | None: ...
    async def save_token(self, user: SlackUser, token: str, expires_at: datetime) -> None: ...


class TokenMinter:
    def __init__(self, client_id: str, client_secret: str, ttl: timedelta, clock: Clock = utcnow) -> None:
        self._client_id = client_id
        self._secret = client_secret
        self.ttl = ttl
        self._clock = clock

    def mint(self, subject: str) -> IssuedToken:
        now = self._clock().replace(microsecond=0)
        expires_at = now + self.ttl
        claims = {"iss": self._client_id, "sub": subject, "iat": now, "exp": expires_at}
        return IssuedToken(jwt.encode(claims, self._secret, algorithm="HS512"), expires_at)


# Users whose current token is kept in memory. Beyond it the least recently active user's is dropped (and read again
# from the database when they come back): a token is a few hundred bytes, so this bounds the cache at a few MB.
DEFAULT_CACHE_SIZE = 10_000


class TokenService:
    """Hands out a valid token per user: the stored one while it has time left, else a fresh one (saved).

    Each user's current token is also kept in memory, so a Rollout request costs no database read (and no
    decryption). The database stays the source of truth: a kept token is only handed out while it has more than the
    renewal margin left; nearer expiry, or once Rollout refused it, the database is read again, so a token another
    process renewed meanwhile is adopted rather than replaced.
    """

    def __init__(
        self, minter: TokenMinter, store: TokenStore, *, clock: Clock = utcnow, cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        self._minter = minter
        self._store = store
        self._clock = clock
        # Renew when less than this is left, so a token never expires between our check and Rollout's.
        self._margin = max(timedelta(seconds=30), minter.ttl / 5)
        self._locks: dict[SlackUser, asyncio.Lock] = {}
        self._kept: LRUCache[SlackUser, IssuedToken] = LRUCache(maxsize=cache_size)  # reading one refreshes it

    async def current(self, user: SlackUser) -> IssuedToken:
        kept = self._kept.get(user)
        if kept is not None and self._usable(kept.expires_at):
            return kept
        async with self._lock(user):
            stored = await self._store.load_token(user)
            if stored is not None and self._usable(stored.expires_at):
                return self._keep(user, IssuedToken(stored.token, stored.expires_at))
            return await self._mint_and_save(user)

    async def renew(self, user: SlackUser, rejected: str | None = None) -> IssuedToken:
        """A fresh token, unless another caller already replaced `rejected` with a good one meanwhile."""
        kept = self._kept.get(user)
        if kept is not None and kept.token == rejected:
            del self._kept[user]  # Rollout refused it: never hand it out again
        async with self._lock(user):
            stored = await self._store.load_token(user)
            if stored is not None and stored.token != rejected and self._usable(stored.expires_at):
                return self._keep(user, IssuedToken(stored.token, stored.expires_at))
            return await self._mint_and_save(user)

    def forget(self, user: SlackUser) -> None:
        """Drop `user`'s kept token, so their next request reads the database: after it was changed from outside."""
        self._kept.pop(user, None)

    @property
    def lifetime(self) -> timedelta:
        return self._minter.ttl

    async def fresh(self, user: SlackUser) -> IssuedToken:
        """A newly minted token with its whole lifetime ahead, for a link the user may open minutes from now."""
        async with self._lock(user):
            return await self._mint_and_save(user)

    async def _mint_and_save(self, user: SlackUser) -> IssuedToken:
        record = await self._store.get_or_create(user)
        issued = self._minter.mint(record.subject)
        await self._store.save_token(user, issued.token, issued.expires_at)
        return self._keep(user, issued)

    def _usable(self, expires_at: datetime) -> bool:
        return expires_at - self._clock() > self._margin

    def _keep(self, user: SlackUser, issued: IssuedToken) -> IssuedToken:
        self._kept[user] = issued
        return issued

    def _lock(self, user: SlackUser) -> asyncio.Lock:
        lock = self._locks.get(user)
        if lock is None:
            if len(self._locks) > 10_000:  # bounded: idle users' locks are cheap to recreate
                self._locks = {u: lk for u, lk in self._locks.items() if lk.locked()}
            lock = self._locks[user] = asyncio.Lock()
        return lock
