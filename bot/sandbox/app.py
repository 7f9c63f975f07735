"""The sandbox ASGI app: Rollout's MCP endpoint and credentials page, an admin route that changes CRM records, plus
counters and fault injection for tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import mcp_types as types
from cachetools import LRUCache
from mcp.server.auth.settings import AuthSettings
from mcp.server.caching import CacheHint
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.sandbox.admin import ADMIN_CHANGE_PATH, AdminRoute
from bot.sandbox.auth import RolloutTokenVerifier
from bot.sandbox.credentials_page import PAGE_PATH, CredentialsPage
from bot.sandbox.crm import SandboxCrm
from bot.sandbox.tools import CrmTools

MCP_PATH = "/mcp"
FailureMode = Literal[None, "500", "drop"]
# Which MCP eras the sandbox speaks: the 2025-11-25 initialize handshake with Mcp-Session-Id sessions ("legacy"),
# the 2026-07-28 stateless protocol with server/discover ("modern"), or both, as the SDK's server does by default.
Protocol = Literal["legacy", "modern", "both"]
PROTOCOLS: tuple[Protocol, ...] = ("legacy", "modern", "both")
# Freshness hints on 2026-07-28 results: the tool list and the discover result are the same for every user.
DEFAULT_TOOLS_TTL_MS = 5 * 60 * 1000
DEFAULT_DISCOVER_TTL_MS = 60 * 60 * 1000
_SESSION_ID_HEADER = "mcp-session-id"
_KNOWN_SESSIONS = 10_000  # bound on the legacy sessions remembered for list_changed delivery


@dataclass(slots=True)
class SandboxStats:
    http_requests: int = 0  # every HTTP request to /mcp, any method, including refused ones
    tool_calls: Counter[str] = field(default_factory=Counter)  # tools/call messages that reached the server, by name
    initializations: int = 0  # initialize messages that reached the server
    discovers: int = 0  # server/discover messages that reached the server (a legacy-only sandbox refuses them first)
    tool_lists: int = 0  # tools/list messages that reached the server, one per page
    by_method: Counter[str] = field(default_factory=Counter)  # HTTP requests to /mcp by HTTP method

    def reset(self) -> None:
        self.http_requests = 0
        self.tool_calls.clear()
        self.initializations = 0
        self.discovers = 0
        self.tool_lists = 0
        self.by_method.clear()


@dataclass(slots=True)
class SandboxControls:
    """What a test can observe and change on a running sandbox; the app reads it on every request."""

    stats: SandboxStats = field(default_factory=SandboxStats)
    latency_seconds: float = 0.0
    delayed: int = 0  # POSTs that have waited out the latency so far: requests surely in flight meanwhile
    delayed_subjects: set[str] = field(default_factory=set)  # whose requests those were (the tokens' `sub`)
    delayed_changed: asyncio.Condition | None = None  # made in the serving loop, for tests that wait on `delayed`
    failure: FailureMode = None
    protocol: Protocol = "both"
    tools_page_size: int | None = None  # None: the whole tool list on one page
    # Bumped whenever the tool list changes; each legacy session is told once per bump (see _ToolListChanges).
    tools_generation: int = 0
    # Session id -> the generation it was told; the least recently seen forgotten first.
    notified: LRUCache[str, int] = field(default_factory=lambda: LRUCache(maxsize=_KNOWN_SESSIONS))


def build_sandbox_app(
    *,
    client_id: str,
    client_secret: str,
    public_base_url: str,
    crm: SandboxCrm,
    latency_seconds: float = 0.0,
    protocol: Protocol = "both",
    tools_page_size: int | None = None,
    tools_ttl_ms: int = DEFAULT_TOOLS_TTL_MS,
) -> Starlette:
    """A Starlette app serving `/mcp`, `/mcp/credentials/{token}` and `/admin/people/change`; its controls are at
    `app.state.sandbox`.

    `protocol` picks the MCP eras served; `tools_page_size` splits `tools/list` into pages of that many tools;
    `tools_ttl_ms` is the `ttlMs` hint on 2026-07-28 tool lists. The MCPServer is at `app.state.mcp_server`.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    if tools_page_size is not None and tools_page_size < 1:
        raise ValueError("tools_page_size must be at least 1")
    controls = SandboxControls(latency_seconds=latency_seconds, protocol=protocol, tools_page_size=tools_page_size)
    verifier = RolloutTokenVerifier(client_id=client_id, client_secret=client_secret)
    server: MCPServer[Any] = MCPServer(
        "rollout-sandbox",
        title="Rollout (sandbox)",
        instructions="CRM tools for the authenticated user's connected CRM accounts.",
        token_verifier=verifier,
        # The SDK wants an issuer URL for its (here unused) OAuth metadata; Rollout tokens are issued by the app.
        auth=AuthSettings(issuer_url=AnyHttpUrl(public_base_url), resource_server_url=None),
        # Every user sees the same tools, so modern clients may share one cached list and one discover result.
        cache_hints={
            "tools/list": CacheHint(ttl_ms=tools_ttl_ms, scope="public"),
            "server/discover": CacheHint(ttl_ms=DEFAULT_DISCOVER_TTL_MS, scope="public"),
        },
        middleware=[_MessageCounter(controls.stats), _ToolListChanges(controls), _ToolPages(controls)],
    )
    CrmTools(crm=crm, public_base_url=public_base_url).register(server)
    page = CredentialsPage(crm=crm, verifier=verifier)
    server.custom_route(PAGE_PATH, methods=["GET", "POST"])(page.handle)
    admin = AdminRoute(crm=crm, verifier=verifier)
    server.custom_route(ADMIN_CHANGE_PATH, methods=["POST"])(admin.handle)
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, transport_security=_dns_rebinding_guard(public_base_url)
    )
    app.add_middleware(_FaultsAndStats, controls=controls, verifier=verifier)
    app.state.sandbox = controls
    app.state.mcp_server = server
    return app


def _dns_rebinding_guard(public_base_url: str) -> TransportSecuritySettings:
    """Accept loopback and the public host, so the sandbox also works behind a name (e.g. in docker compose)."""
    public = urlsplit(public_base_url)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", public.netloc],
        allowed_origins=[
            "http://127.0.0.1:*",
            "http://localhost:*",
            "http://[::1]:*",
            f"{public.scheme}://{public.netloc}",
        ],
    )


class _MessageCounter:
    """MCP-level middleware: counts initialize, server/discover, tools/list and tools/call (by tool name) messages."""

    def __init__(self, stats: SandboxStats) -> None:
        self._stats = stats

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "initialize":
            self._stats.initializations += 1
        elif ctx.method == "server/discover":
            self._stats.discovers += 1
        elif ctx.method == "tools/list":
            self._stats.tool_lists += 1
        elif ctx.method == "tools/call":
            name = ctx.params.get("name") if ctx.params else None
            self._stats.tool_calls[name if isinstance(name, str) else "<invalid>"] += 1
        return await call_next(ctx)


class _ToolListChanges:
    """Tells each legacy session once that the tool list changed, on the response stream of its next request.

    The request's own stream, rather than the session's GET stream, so a test can't race the GET stream's opening.
    2026-07-28 clients have no session to tell: they refetch when their cached list's ttlMs runs out.
    """

    def __init__(self, controls: SandboxControls) -> None:
        self._controls = controls

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        controls = self._controls
        session_id = _session_id(ctx)
        legacy = ctx.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
        if session_id is not None and ctx.request_id is not None and legacy:
            told = controls.notified.get(session_id)
            if told is None:  # a session that opened after the change has the current list
                controls.notified[session_id] = controls.tools_generation
            elif told < controls.tools_generation:
                controls.notified[session_id] = controls.tools_generation
                await ctx.session.send_notification(types.ToolListChangedNotification(), ctx.request_id)
        return await call_next(ctx)


def _session_id(ctx: ServerRequestContext[Any, Any]) -> str | None:
    request = ctx.request
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    value = headers.get(_SESSION_ID_HEADER)
    return value if isinstance(value, str) else None


class _ToolPages:
    """Splits `tools/list` into pages of `tools_page_size` tools; the cursor is the index of the page's first tool."""

    def __init__(self, controls: SandboxControls) -> None:
        self._controls = controls

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        size = self._controls.tools_page_size
        if ctx.method != "tools/list" or size is None:
            return await call_next(ctx)
        cursor = ctx.params.get("cursor") if ctx.params else None
        try:
            start = 0 if cursor is None else int(cursor)
        except (TypeError, ValueError):
            start = -1
        if start < 0:
            raise MCPError(code=types.INVALID_PARAMS, message="Invalid cursor")
        result = await call_next(ctx)
        if isinstance(result, types.ListToolsResult):
            listed = result.tools
            page = result.model_copy(update={"tools": listed[start : start + size]})
            if start + size < len(listed):
                page.next_cursor = str(start + size)
            return page
        if isinstance(result, dict) and isinstance(result.get("tools"), list):
            listed_raw: list[Any] = result["tools"]
            paged: dict[str, Any] = {**result, "tools": listed_raw[start : start + size]}
            if start + size < len(listed_raw):
                paged["nextCursor"] = str(start + size)
            return paged
        return result


class _FaultsAndStats:
    """Outermost ASGI middleware on /mcp: counts requests, then applies the injected failure and latency."""

    def __init__(self, app: ASGIApp, *, controls: SandboxControls, verifier: RolloutTokenVerifier) -> None:
        self._app = app
        self._controls = controls
        self._verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != MCP_PATH:
            await self._app(scope, receive, send)
            return
        controls = self._controls
        controls.stats.http_requests += 1
        controls.stats.by_method[scope["method"]] += 1
        refusal = _era_refusal(controls.protocol, scope) if self._authenticated(scope) else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if controls.failure == "500":
            await PlainTextResponse("Internal Server Error (injected by the sandbox)", status_code=500)(
                scope, receive, send
            )
            return
        if controls.failure == "drop":
            await _drop_connection(receive)
            return
        if scope["method"] == "POST" and controls.latency_seconds > 0:
            if controls.delayed_changed is None:
                controls.delayed_changed = asyncio.Condition()
            async with controls.delayed_changed:
                controls.delayed += 1
                if (subject := self._subject(scope)) is not None:
                    controls.delayed_subjects.add(subject)
                controls.delayed_changed.notify_all()
            await asyncio.sleep(controls.latency_seconds)  # the injected latency itself
        await self._app(scope, receive, send)

    def _authenticated(self, scope: Scope) -> bool:
        """Whether the bearer token is good: as on Rollout, a bad one is refused (401) before any era routing."""
        return self._subject(scope) is not None

    def _subject(self, scope: Scope) -> str | None:
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
        scheme, _, token = header.partition(" ")
        verified = self._verifier.verify(token) if scheme.lower() == "bearer" else None
        return verified.subject if verified is not None else None


def _era_refusal(protocol: Protocol, scope: Scope) -> Callable[[Scope, Receive, Send], Any] | None:
    """How a server of one era only answers a request of the other era, or None to serve it.

    The SDK's session manager routes by the MCP-Protocol-Version header, so that is what decides here too.
    """
    if protocol == "both":
        return None
    header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"mcp-protocol-version"), None)
    modern = header is not None and header not in HANDSHAKE_PROTOCOL_VERSIONS
    if protocol == "legacy" and modern:
        # What a 2025-11-25 server says to a sessionless request such as server/discover.
        return _jsonrpc_error(400, types.INVALID_REQUEST, "Bad Request: Missing session ID")
    if protocol == "modern" and not modern:
        if scope["method"] != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        # What a 2026-07-28-only server says to an initialize handshake: the versions it does speak.
        data = types.UnsupportedProtocolVersionErrorData(
            supported=list(MODERN_PROTOCOL_VERSIONS), requested=header or HANDSHAKE_PROTOCOL_VERSIONS[-1]
        )
        return _jsonrpc_error(
            400, types.UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", data.model_dump(mode="json")
        )
    return None


def _jsonrpc_error(status: int, code: int, message: str, data: Any = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=status)


async def _drop_connection(receive: Receive) -> None:
    """Close the TCP connection without a response, like a crashed server or a load balancer reset.

    ASGI has no message for that, so this reaches uvicorn's per-request cycle (the owner of `receive`) for its
    transport; `start_sandbox` pins uvicorn's h11 protocol, which has one.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if not isinstance(transport, asyncio.BaseTransport):
        raise RuntimeError("cannot drop the connection: the ASGI server does not expose its transport")
    transport.close()
    # Wait until the server notices, so it does not try to answer the request on the closed connection.
    while (await receive())["type"] != "http.disconnect":
        pass
