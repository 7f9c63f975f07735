"""A bounded LRU pool of open MCP sessions, one per user, closed when idle or evicted."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator

from bot.identity import SlackUser
from bot.rollout.session import RolloutStats, UserSession
from bot.rollout.tokens import TokenService


class SessionPool:
    def __init__(
        self,
        url: str,
        tokens: TokenService,
        *,
        max_sessions: int,
        idle_seconds: float,
        connect_timeout: float,
        stats: RolloutStats | None = None,
    ) -> None:
        self._url = url
        self._tokens = tokens
        self._max = max_sessions
        self._idle = idle_seconds
        self._connect_timeout = connect_timeout
        self.stats = stats or RolloutStats()
        self._sessions: OrderedDict[SlackUser, UserSession] = OrderedDict()
        self._opening: dict[SlackUser, asyncio.Future[UserSession]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._sessions)

    @contextlib.asynccontextmanager
    async def session(self, user: SlackUser) -> AsyncIterator[UserSession]:
        session = await self._acquire(user)
        session.in_use += 1
        try:
            yield session
        finally:
            session.in_use -= 1
            session.last_used = asyncio.get_running_loop().time()

    async def discard(self, session: UserSession) -> None:
        """Drop a broken session so the next call for this user opens a fresh one."""
        if self._sessions.get(session.user) is session:
            del self._sessions[session.user]
        await session.close()

    async def close(self) -> None:
        sessions = list(self._sessions.values())
        self._sessions.clear()
        await asyncio.gather(*(s.close() for s in sessions), *self._closing, return_exceptions=True)

    async def _acquire(self, user: SlackUser) -> UserSession:
        self._expire_idle()
        session = self._sessions.get(user)
        if session is not None and session.alive:
            self._sessions.move_to_end(user)
            return session
        if session is not None:
            del self._sessions[user]
        # Concurrent first calls for one user share one connection attempt.
        pending = self._opening.get(user)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = asyncio.get_running_loop().create_future()
        self._opening[user] = pending
        try:
            session = UserSession(user, self._url, self._tokens, self.stats, self._connect_timeout)
            await session.open()
            self._sessions[user] = session
            self._evict_overflow()
            pending.set_result(session)
            return session
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved here so a lone caller does not leave "exception never retrieved"
            raise
        finally:
            del self._opening[user]

    def _expire_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        for user, session in list(self._sessions.items()):
            if session.in_use == 0 and now - session.last_used > self._idle:
                del self._sessions[user]
                self._close_later(session)

    def _evict_overflow(self) -> None:
        for user, session in list(self._sessions.items()):
            if len(self._sessions) <= self._max:
                break
            if session.in_use == 0:
                del self._sessions[user]
                self._close_later(session)

    def _close_later(self, session: UserSession) -> None:
        task = asyncio.create_task(session.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
