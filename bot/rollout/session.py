"""One MCP client per user over Streamable HTTP, in whichever protocol era Rollout speaks, with the user's bearer
token renewed underneath it.

On a 2025-11-25 server the client holds an initialized session (Mcp-Session-Id). On a 2026-07-28 server there is no
session: the client adopts the discover result the process already has and costs nothing to open, so a command is
one POST. Either way the complete tool list comes from every `tools/list` page; the Client's response cache answers
the first page while its ttlMs lasts (continuation pages always go to the server, as the SDK documents).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client import CacheConfig, IncomingMessage, InMemoryResponseCacheStore, Transport
from mcp.client.caching import MAX_TTL_MS
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bot.identity import SlackUser
from bot.rollout.tokens import TokenService

log = logging.getLogger(__name__)

LEGACY = "legacy"  # the Client's mode for the 2025-11-25 initialize handshake
MAX_TOOL_PAGES = 100  # a server whose cursor never ends must not hold a command forever
# The legacy GET stream stays open between server messages; a call's own read timeout is set per request.
_STREAM_READ_TIMEOUT = 300.0


@dataclass
class RolloutStats:
    """Counts what actually went over the wire, for tests and the benchmark."""

    http_requests: int = 0
    sessions_opened: int = 0
    tool_calls: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    last_status: int | None = None  # of the last response: what `rollout-bot doctor` names when a connection fails

    async def on_request(self, request: httpx2.Request) -> None:
        self.http_requests += 1
        self.by_method[request.method] = self.by_method.get(request.method, 0) + 1

    async def on_response(self, response: httpx2.Response) -> None:
        self.last_status = response.status_code


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
        if response.status_code != 401 or self.rejected:  # a fresh token was refused already: don't mint another
            return
        renewed = await self._tokens.renew(self._user, rejected=issued.token)
        request.headers["Authorization"] = f"Bearer {renewed.token}"
        response = yield request
        self.rejected = response.status_code == 401


@dataclass(frozen=True, slots=True)
class Era:
    """The protocol the server spoke when last asked: a modern version with its discover result, or legacy."""

    version: str  # LEGACY or a 2026-07-28+ protocol version
    discover: types.DiscoverResult | None
    expires_at: float  # event-loop time


@dataclass
class Shared:
    """What a pool's sessions share: one SSL context, the server's era, the tool-list cache and the counters."""

    url: str
    stats: RolloutStats
    ssl_context: ssl.SSLContext
    tool_lists: InMemoryResponseCacheStore  # every Client's response cache, so what one user fetched serves the next
    cache_clock: Callable[[], float]  # the Clients' cache clock (tests move it by hand)
    era_seconds: float  # how long the era is trusted without asking again, at least
    era: Era | None = None

    def known_era(self) -> Era | None:
        era = self.era
        if era is not None and asyncio.get_running_loop().time() >= era.expires_at:
            self.era = era = None
        return era

    def learn_era(self, client: Client) -> None:
        version = client.protocol_version
        lifetime = self.era_seconds
        if version in MODERN_PROTOCOL_VERSIONS:
            discover = client.session.discover_result
            if discover is not None:  # the server may say its discover result stays fresh for longer
                lifetime = max(lifetime, min(discover.ttl_ms, MAX_TTL_MS) / 1000)
            era = Era(version, discover, asyncio.get_running_loop().time() + lifetime)
        else:
            era = Era(LEGACY, None, asyncio.get_running_loop().time() + lifetime)
        self.era = era

    def forget_era(self) -> None:
        self.era = None


class UserSession:
    """A connected `mcp.Client` owned by a background task.

    The MCP client's contexts hold anyio task groups that must be entered and left by the same task, so one task per
    session keeps them open and callers from any task use the client through it.
    """

    def __init__(
        self, user: SlackUser, tokens: TokenService, shared: Shared, connect_timeout: float, *, refresh_tools: bool
    ) -> None:
        self.user = user
        self.auth = BearerAuth(user, tokens)
        self._shared = shared
        self._connect_timeout = connect_timeout
        self._refresh_tools = refresh_tools  # a renewed session reads the list from Rollout, not the cache
        self._client: Client | None = None
        self.protocol_version: str | None = None  # the negotiated MCP version, for diagnostics
        self._tools: list[types.Tool] | None = None
        self._tools_stale = False  # set by notifications/tools/list_changed
        self._tools_just_read = False  # the list read at open serves the command that opened the session
        self._tools_lock = asyncio.Lock()
        self.tool_pages = 0  # pages the last walk of tools/list took, and whether it ended: for `rollout-bot doctor`
        self.tools_cut_off = False
        self.tool_list_changed = asyncio.Event()  # set on notifications/tools/list_changed, for tests
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self.closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_used = asyncio.get_running_loop().time()
        self.in_use = 0

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done() and self._client is not None

    @property
    def modern(self) -> bool:
        return self.protocol_version in MODERN_PROTOCOL_VERSIONS

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
        shared = self._shared
        era = shared.known_era()
        http = httpx2.AsyncClient(
            auth=self.auth,
            verify=shared.ssl_context,  # one context per pool: building one costs tens of ms of CPU
            timeout=httpx2.Timeout(self._connect_timeout, read=_STREAM_READ_TIMEOUT),
            event_hooks={"request": [shared.stats.on_request], "response": [shared.stats.on_response]},
        )
        client = Client(
            absent_result_type_is_complete(streamable_http_client(shared.url, http_client=http)),
            # Probe once per process, then adopt what the server said instead of asking again for every user.
            mode="auto" if era is None else era.version,
            prior_discover=None if era is None else era.discover,
            read_timeout_seconds=self._connect_timeout,
            message_handler=self._on_message,
            cache=CacheConfig(
                store=shared.tool_lists,
                partition=f"{self.user.team_id}:{self.user.user_id}",  # verified by Slack's request signature
                target_id=shared.url,
                share_public=True,  # a list Rollout marks public is the same for everyone
                clock=shared.cache_clock,
            ),
        )
        try:
            async with http, client:
                self.protocol_version = client.protocol_version
                if era is None:
                    shared.learn_era(client)
                self._client = client
                self._tools = await self._walk_tools(client, refresh=self._refresh_tools)
                self._tools_just_read = True
                shared.stats.sessions_opened += 1
                self._ready.set_result(None)
                await self._closing.wait()
        except Exception as exc:  # the transport's task group wraps errors; the caller only needs "it failed"
            if not self._ready.done():
                self._ready.set_exception(SessionUnavailable(_unwrap(exc), rejected=self.auth.rejected))
            else:
                log.info("rollout session for %s ended: %s", self.user, type(_unwrap(exc)).__name__)
        finally:
            self._client = None
            if not self._ready.done():
                self._ready.set_exception(SessionUnavailable(None))
            self.closed.set()

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._tools_stale = True
            self.tool_list_changed.set()

    async def list_tools(self) -> list[types.Tool]:
        """Every tool, from the session's list while it is current.

        A legacy session keeps its list until Rollout says it changed. A modern one asks the Client each time: its
        response cache answers the first page without a request while the page's ttlMs lasts.
        """
        client = self._client
        if client is None:
            raise SessionUnavailable(None)
        just_read, self._tools_just_read = self._tools_just_read, False
        if self._tools is not None and not self._tools_stale and (just_read or not self.modern):
            return self._tools
        async with self._tools_lock:
            if self._tools is None or self._tools_stale or self.modern:
                refresh = self._tools_stale
                self._tools_stale = False
                try:
                    self._tools = await self._walk_tools(client, refresh=refresh)
                except BaseException:
                    self._tools_stale = self._tools_stale or refresh
                    raise
            return self._tools

    async def _walk_tools(self, client: Client, *, refresh: bool) -> list[types.Tool]:
        """All pages of `tools/list`, bounded."""
        first = await client.list_tools(cache_mode="refresh" if refresh else "use")
        tools = list(first.tools)
        cursor = first.next_cursor
        seen: set[str] = set()
        pages = self.tool_pages = 1
        self.tools_cut_off = False
        while cursor is not None:
            if cursor in seen or pages >= MAX_TOOL_PAGES:
                log.warning("rollout's tool list did not end after %d pages; using what was listed", pages)
                self.tools_cut_off = True
                return tools
            seen.add(cursor)
            page = await client.list_tools(cursor=cursor)
            pages = self.tool_pages = pages + 1
            tools += page.tools
            cursor = page.next_cursor
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any], *, read_timeout: float) -> types.CallToolResult:
        client = self._client
        if client is None:
            raise SessionUnavailable(None)
        self._shared.stats.tool_calls += 1
        return await client.call_tool(name, arguments, read_timeout_seconds=read_timeout)

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


@contextlib.asynccontextmanager
async def absent_result_type_is_complete(transport: Transport) -> AsyncIterator[tuple[_CompleteByDefault, Any]]:
    """The transport, with `resultType: "complete"` filled into any result that lacks it.

    The spec has clients read an absent `resultType` as "complete", and the MCP conformance suite checks that on a
    2026-07-28 exchange; the SDK instead rejects such a result when validating it (a pydantic.ValidationError) and
    offers no setting or hook for that, so the field is filled in before the SDK sees the message. Results of the
    2025-11-25 era have no such field: the SDK ignores it there.
    """
    async with transport as (read_stream, write_stream):
        yield _CompleteByDefault(read_stream), write_stream


class _CompleteByDefault:
    """A transport's read stream, passing every message through `_complete`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @property
    def last_context(self) -> Any:
        # The dispatcher runs each message in the context it was sent from, when the stream keeps one.
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        return _complete(await self._inner.receive())

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        return _complete(await self._inner.__anext__())

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        result: bool | None = await self._inner.__aexit__(exc_type, exc, tb)
        return result


def _complete(item: SessionMessage | Exception) -> SessionMessage | Exception:
    if isinstance(item, SessionMessage) and isinstance(item.message, types.JSONRPCResponse):
        item.message.result.setdefault("resultType", "complete")  # parsed for this message alone: safe to change
    return item


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
