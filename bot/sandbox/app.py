"""The sandbox ASGI app: Rollout's MCP endpoint and credentials page, plus counters and fault injection for tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.sandbox.auth import RolloutTokenVerifier
from bot.sandbox.credentials_page import PAGE_PATH, CredentialsPage
from bot.sandbox.crm import SandboxCrm
from bot.sandbox.tools import CrmTools

MCP_PATH = "/mcp"
FailureMode = Literal[None, "500", "drop"]


@dataclass(slots=True)
class SandboxStats:
    http_requests: int = 0  # every HTTP request to /mcp, any method, including refused ones
    tool_calls: Counter[str] = field(default_factory=Counter)  # tools/call messages that reached the server, by name
    initializations: int = 0  # initialize messages that reached the server

    def reset(self) -> None:
        self.http_requests = 0
        self.tool_calls.clear()
        self.initializations = 0


@dataclass(slots=True)
class SandboxControls:
    """What a test can observe and change on a running sandbox; the app reads it on every request."""

    stats: SandboxStats = field(default_factory=SandboxStats)
    latency_seconds: float = 0.0
    failure: FailureMode = None


def build_sandbox_app(
    *,
    client_id: str,
    client_secret: str,
    public_base_url: str,
    crm: SandboxCrm,
    latency_seconds: float = 0.0,
) -> Starlette:
    """A Starlette app serving `/mcp` and `/mcp/credentials/{token}`; its controls are at `app.state.sandbox`."""
    controls = SandboxControls(latency_seconds=latency_seconds)
    verifier = RolloutTokenVerifier(client_id=client_id, client_secret=client_secret)
    server: MCPServer[Any] = MCPServer(
        "rollout-sandbox",
        title="Rollout (sandbox)",
        instructions="CRM tools for the authenticated user's connected CRM accounts.",
        token_verifier=verifier,
        # The SDK wants an issuer URL for its (here unused) OAuth metadata; Rollout tokens are issued by the app.
        auth=AuthSettings(issuer_url=public_base_url, resource_server_url=None),
        middleware=[_MessageCounter(controls.stats)],
    )
    CrmTools(crm=crm, public_base_url=public_base_url).register(server)
    page = CredentialsPage(crm=crm, verifier=verifier)
    server.custom_route(PAGE_PATH, methods=["GET", "POST"])(page.handle)
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, transport_security=_dns_rebinding_guard(public_base_url)
    )
    app.add_middleware(_FaultsAndStats, controls=controls)
    app.state.sandbox = controls
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
    """MCP-level middleware: counts initialize and tools/call messages by tool name."""

    def __init__(self, stats: SandboxStats) -> None:
        self._stats = stats

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "initialize":
            self._stats.initializations += 1
        elif ctx.method == "tools/call":
            name = ctx.params.get("name") if ctx.params else None
            self._stats.tool_calls[name if isinstance(name, str) else "<invalid>"] += 1
        return await call_next(ctx)


class _FaultsAndStats:
    """Outermost ASGI middleware on /mcp: counts requests, then applies the injected failure and latency."""

    def __init__(self, app: ASGIApp, *, controls: SandboxControls) -> None:
        self._app = app
        self._controls = controls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != MCP_PATH:
            await self._app(scope, receive, send)
            return
        controls = self._controls
        controls.stats.http_requests += 1
        if controls.failure == "500":
            await PlainTextResponse("Internal Server Error (injected by the sandbox)", status_code=500)(
                scope, receive, send
            )
            return
        if controls.failure == "drop":
            await _drop_connection(receive)
            return
        if scope["method"] == "POST" and controls.latency_seconds > 0:
            await asyncio.sleep(controls.latency_seconds)
        await self._app(scope, receive, send)


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
