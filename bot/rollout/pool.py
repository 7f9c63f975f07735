"""A bounded LRU pool of MCP clients, one per user, closed when idle or evicted.

Per process, not per user: one SSL context, what the server's protocol era is, and the cache of tool lists Rollout
marks public. Per user: the token (through BearerAuth), the client, and a private tool list while it is fresh.

The sessions sit in an OrderedDict, not a cachetools LRUCache like the bot's other bounded maps: eviction here must
skip sessions in use and close what it drops, and the idle sweep walks from the least recently used end until a fresh
one; an LRUCache drops its oldest entry on insert, in use or not, without telling anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

import httpx2
from mcp.client import InMemoryResponseCacheStore

from bot.identity import SlackUser
from bot.rollout.session import RolloutStats, SessionUnavailable, Shared, UserSession
from bot.rollout.tokens import TokenService

DEFAULT_ERA_SECONDS = 300.0  # how long the server's protocol era is trusted before it is probed again


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
        era_seconds: float = DEFAULT_ERA_SECONDS,
        cache_clock: Callable[[], float] = time.time,
    ) -> None:
        self._tokens = tokens
        self._max = max_sessions
        self._idle = idle_seconds
        self._connect_timeout = connect_timeout
        self.stats = stats or RolloutStats()
        self._shared = Shared(
            url=url,
            stats=self.stats,
            # As httpx2 would build it for each client, but once: about 30 ms of CPU per session otherwise.
            ssl_context=httpx2.create_ssl_context(),
            # Room for a private list per pooled user, plus the public one.
            tool_lists=InMemoryResponseCacheStore(max_entries=2 * max_sessions + 16),
            cache_clock=cache_clock,
            era_seconds=era_seconds,
        )
        self._sessions: OrderedDict[SlackUser, UserSession] = OrderedDict()
        self._opening: dict[SlackUser, asyncio.Future[UserSession]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._renewed: set[SlackUser] = set()  # users whose session was discarded: re-read their tool list
        self._reaper: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def protocol_version(self) -> str | None:
        """The protocol era the process last saw the server speak ("legacy" or a version), if it knows."""
        era = self._shared.era
        return None if era is None else era.version

    @contextlib.asynccontextmanager
    async def session(self, user: SlackUser) -> AsyncIterator[UserSession]:
        session = await self._acquire(user)
        session.in_use += 1
        try:
            yield session
        finally:
            session.in_use -= 1
            session.last_used = asyncio.get_running_loop().time()
            self._arm_reaper()

    async def discard(self, session: UserSession) -> None:
        """Drop a broken session so the next call for this user opens a fresh one.

        The era is forgotten too, so the next connection asks the server again: it may have changed protocol.
        """
        if self._sessions.get(session.user) is session:
            del self._sessions[session.user]
        self._renewed.add(session.user)
        if len(self._renewed) > 4 * self._max:  # bounded: a missed refresh only means one cached list is reused
            self._renewed.clear()
        self._shared.forget_era()
        await session.close()

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        sessions = list(self._sessions.values())
        self._sessions.clear()
        await asyncio.gather(*(s.close() for s in sessions), *self._closing, return_exceptions=True)

    async def _acquire(self, user: SlackUser) -> UserSession:
        self._expire_idle(every=False)
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
            await self._token_ready(user)
            refresh = user in self._renewed
            session = UserSession(user, self._tokens, self._shared, self._connect_timeout, refresh_tools=refresh)
            await session.open()
            self._renewed.discard(user)
            self._sessions[user] = session
            self._evict_overflow()
            pending.set_result(session)
            return session
        except BaseException as exc:
            self._shared.forget_era()  # the era this session adopted may be what failed: ask the server next time
            pending.set_exception(exc)
            pending.exception()  # retrieved here so a lone caller does not leave "exception never retrieved"
            raise
        finally:
            del self._opening[user]

    async def _token_ready(self, user: SlackUser) -> None:
        """The user's token before the session's connect timeout starts: minting one is a database write that may
        wait its turn behind other writers (SQLite has one), and that wait is not Rollout being slow."""
        try:
            await self._tokens.current(user)
        except Exception as exc:  # the store failing is "can't reach Rollout" to the caller, as it was in the auth flow
            raise SessionUnavailable(exc) from None

    def _expire_idle(self, *, every: bool = True) -> None:
        """Close sessions idle for longer than the idle time. `every=False` (on each acquire) looks only from the
        least recently used end until a session that is still fresh: the timer does the full walk, so a busy pool
        doesn't pay for walking all its sessions on every command."""
        now = asyncio.get_running_loop().time()
        expired: list[SlackUser] = []
        for user, session in self._sessions.items():
            if session.in_use:
                continue
            if now - session.last_used > self._idle:
                expired.append(user)
            elif not every:
                break
        for user in expired:
            self._close_later(self._sessions.pop(user))

    def _arm_reaper(self) -> None:
        """Close idle sessions even when no other call comes to notice them, at the earliest one's expiry."""
        if self._reaper is not None:  # checked first: this runs on every release, the walk below is O(pool)
            return
        idle = [s.last_used for s in self._sessions.values() if s.in_use == 0]
        if not idle:  # a session in use re-arms this when it is released
            return
        loop = asyncio.get_running_loop()
        self._reaper = loop.call_at(max(min(idle) + self._idle, loop.time()) + 0.001, self._reap)

    def _reap(self) -> None:
        self._reaper = None
        self._expire_idle()
        self._arm_reaper()

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
