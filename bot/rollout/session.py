"""One open MCP session per user, over Streamable HTTP, with the user's bearer token renewed underneath it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, create_mcp_http_client

from bot.identity import SlackUser
from bot.rollout.tokens import TokenService

log = logging.getLogger(__name__)


@dataclass
class RolloutStats:
    """Counts what actually went over the wire, for tests and `rollout-bot bench`."""

    http_requests: int = 0
    sessions_opened: int = 0
    tool_calls: int = 0
    by_method: dict[str, int] = field(default_factory=dict)

    async def on_request(self, request: httpx2.Request) -> None:
        self.http_requests += 1
        self.by_method[request.method] = self.by_method.get(request.method, 0) + 1


class BearerAuth(httpx2.Auth):
    """Sets the user's current token on every request; on a 401, renews it and retries that request once."""

    def __init__(self, user: SlackUser, tokens: TokenService) -> None:
        self._user = user
        self._tokens = tokens
        self.rejected = False  # set when even a fresh token got 401

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        issued = await self._tokens.current(self._user)
        request.headers["Authorization"] = f"Bearer {issued.token}"
        response = yield request
        if response.status_code != 401:
            return
        renewed = await self._tokens.renew(self._user, rejected=issued.token)
        request.headers["Authorization"] = f"Bearer {renewed.token}"
        response = yield request
        self.rejected = response.status_code == 401


class UserSession:
    """An initialized ClientSession owned by a background task.

    The MCP client's contexts hold anyio task groups that must be entered and left by the same task, so one task per
    session keeps them open and callers from any task use the session through it.
    """

    def __init__(
        self, user: SlackUser, url: str, tokens: TokenService, stats: RolloutStats, connect_timeout: float
    ) -> None:
        self.user = user
        self.auth = BearerAuth(user, tokens)
        self._url = url
        self._stats = stats
        self._connect_timeout = connect_timeout
        self._session: ClientSession | None = None
        self.tools: list[types.Tool] = []
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_used = asyncio.get_running_loop().time()
        self.in_use = 0

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done() and self._session is not None

    async def open(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"mcp-session-{self.user}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self._connect_timeout)
        except BaseException:
            await self.close()
            if self._ready.done() and not self._ready.cancelled():
                self._ready.exception()  # the caller already has its answer; don't let asyncio log this one
            raise

    async def _run(self) -> None:
        http = create_mcp_http_client(
            timeout=httpx2.Timeout(self._connect_timeout, read=MCP_DEFAULT_SSE_READ_TIMEOUT), auth=self.auth
        )
        http.event_hooks = {"request": [self._stats.on_request], "response": []}
        try:
            async with (
                http,
                streamable_http_client(self._url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                self.tools = list((await session.list_tools()).tools)
                self._session = session
                self._stats.sessions_opened += 1
                self._ready.set_result(None)
                await self._closing.wait()
        except Exception as exc:  # the transport's task group wraps errors; the caller only needs "it failed"
            if not self._ready.done():
                self._ready.set_exception(SessionUnavailable(_unwrap(exc), rejected=self.auth.rejected))
            else:
                log.info("rollout session for %s ended: %s", self.user, type(_unwrap(exc)).__name__)
        finally:
            self._session = None
            if not self._ready.done():
                self._ready.set_exception(SessionUnavailable(None))

    async def call_tool(self, name: str, arguments: dict[str, Any], *, read_timeout: float) -> types.CallToolResult:
        session = self._session
        if session is None:
            raise SessionUnavailable(None)
        self._stats.tool_calls += 1
        result = await session.call_tool(name, arguments, read_timeout_seconds=read_timeout)
        if not isinstance(result, types.CallToolResult):  # claimed/input-required results are not part of Rollout
            raise SessionUnavailable(None)
        return result

    async def close(self) -> None:
        self._closing.set()
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), 5)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class SessionUnavailable(Exception):
    """The session could not be opened or is gone. `cause` is kept for mapping, never shown or logged as text."""

    def __init__(self, cause: BaseException | None, *, rejected: bool = False) -> None:
        super().__init__("rollout session unavailable")
        self.cause = cause
        self.rejected = rejected  # Rollout answered 401 even to a freshly minted token


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
