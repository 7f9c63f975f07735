"""Running the sandbox: in-process on a loopback port for tests and the demo, or forever for `rollout-bot sandbox`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from bot.sandbox.app import (
    DEFAULT_TOOLS_TTL_MS,
    MCP_PATH,
    FailureMode,
    Protocol,
    SandboxControls,
    SandboxStats,
    build_sandbox_app,
)
from bot.sandbox.crm import SandboxCrm

logger = logging.getLogger(__name__)

_STARTUP_TIMEOUT_SECONDS = 10.0
# Clients that stay connected at shutdown (an open GET stream) must not hold the process forever.
_GRACEFUL_SHUTDOWN_SECONDS = 3


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    url: str  # the MCP endpoint, e.g. http://127.0.0.1:54321/mcp
    base_url: str  # e.g. http://127.0.0.1:54321
    crm: SandboxCrm
    _controls: SandboxControls
    _server: MCPServer[Any]

    @property
    def stats(self) -> SandboxStats:
        return self._controls.stats

    @property
    def protocol(self) -> Protocol:
        return self._controls.protocol

    def add_tool(self, fn: Callable[..., Any], *, name: str, description: str) -> None:
        """Offer one more tool; legacy sessions get `notifications/tools/list_changed` with their next response."""
        self._server.add_tool(fn, name=name, description=description)
        self._controls.tools_generation += 1

    def remove_tool(self, name: str) -> None:
        """Stop offering a tool; legacy sessions are told as with `add_tool`."""
        self._server.remove_tool(name)
        self._controls.tools_generation += 1

    def set_latency(self, seconds: float) -> None:
        """Delay every following POST to /mcp by `seconds` before it is handled."""
        self._controls.latency_seconds = seconds

    async def wait_for_delayed(self, subjects: int) -> None:
        """Until requests of `subjects` different Rollout subjects (people) have been held by the latency: that many
        people's work is surely under way."""
        controls = self._controls
        if controls.delayed_changed is None:
            controls.delayed_changed = asyncio.Condition()
        async with controls.delayed_changed:
            await controls.delayed_changed.wait_for(lambda: len(controls.delayed_subjects) >= subjects)

    def set_failure(self, mode: FailureMode) -> None:
        """Make following requests to /mcp fail: "500" answers HTTP 500, "drop" closes the connection unanswered."""
        self._controls.failure = mode


class _Server(uvicorn.Server):
    """uvicorn with a readiness event, and optionally without taking over the process's signal handlers."""

    def __init__(self, config: uvicorn.Config, *, handle_signals: bool) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self._handle_signals = handle_signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self._handle_signals:
            with super().capture_signals():
                yield
        else:
            yield


@contextlib.asynccontextmanager
async def start_sandbox(
    *,
    client_id: str,
    client_secret: str,
    host: str = "127.0.0.1",
    port: int = 0,
    crm: SandboxCrm | None = None,
    latency_seconds: float = 0.0,
    protocol: Protocol = "both",
    tools_page_size: int | None = None,
    tools_ttl_ms: int = DEFAULT_TOOLS_TTL_MS,
) -> AsyncIterator[RunningSandbox]:
    """Serve a sandbox in this event loop until the block exits; port 0 picks a free port.

    `protocol`: "legacy" (2025-11-25 initialize handshake only), "modern" (2026-07-28 stateless only) or "both".
    `tools_page_size`: split `tools/list` into pages of that many tools. `tools_ttl_ms`: the 2026-07-28 `ttlMs` hint
    on tool lists.
    """
    crm = SandboxCrm() if crm is None else crm
    listener = _bind(host, port)
    base_url = _base_url(host, listener.getsockname()[1])
    app = build_sandbox_app(
        client_id=client_id,
        client_secret=client_secret,
        public_base_url=base_url,
        crm=crm,
        latency_seconds=latency_seconds,
        protocol=protocol,
        tools_page_size=tools_page_size,
        tools_ttl_ms=tools_ttl_ms,
    )
    async with _uvicorn(app, listener, handle_signals=False):
        yield RunningSandbox(
            url=f"{base_url}{MCP_PATH}",
            base_url=base_url,
            crm=crm,
            _controls=app.state.sandbox,
            _server=app.state.mcp_server,
        )


async def serve_sandbox_forever(
    host: str,
    port: int,
    client_id: str,
    client_secret: str,
    accounts_per_user: int,
    *,
    public_base_url: str | None = None,
    protocol: Protocol = "both",
    tools_page_size: int | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM. `public_base_url` is where users reach it, when that is not host:port."""
    listener = _bind(host, port)
    base_url = (public_base_url or _base_url(host, listener.getsockname()[1])).rstrip("/")
    app = build_sandbox_app(
        client_id=client_id,
        client_secret=client_secret,
        public_base_url=base_url,
        crm=SandboxCrm(accounts_per_new_subject=accounts_per_user),
        protocol=protocol,
        tools_page_size=tools_page_size,
    )
    async with _uvicorn(app, listener, handle_signals=True) as serving:
        logger.info("Rollout sandbox serving MCP (%s) at %s%s", protocol, base_url, MCP_PATH)
        await serving  # uvicorn ends it on SIGINT/SIGTERM


@contextlib.asynccontextmanager
async def _uvicorn(
    app: Starlette, listener: socket.socket, *, handle_signals: bool
) -> AsyncIterator[asyncio.Task[None]]:
    """Run uvicorn on `listener` in this event loop; yields once it accepts connections, stops it on exit."""
    server = _Server(_config(app), handle_signals=handle_signals)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await _until_ready(server, serving)
        yield serving
    finally:
        server.should_exit = True
        await serving
        listener.close()


def _config(app: Starlette) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http="h11",  # `set_failure("drop")` relies on h11's per-request transport
        ws="none",
        lifespan="on",  # the MCP session manager runs in the app's lifespan
        access_log=False,  # request lines would include the credentials page URL, which holds a token
        log_config=None,  # leave the host application's logging configuration alone
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )


class SandboxPortUnavailable(OSError):
    """The sandbox cannot listen on the port it was given (taken, or not allowed); the OSError is its cause."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise SandboxPortUnavailable(error.errno, error.strerror) from error
    listener.setblocking(False)
    return listener


def _base_url(host: str, port: int) -> str:
    """The URL links should use: a wildcard bind address is reached through loopback."""
    reachable = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{reachable}]:{port}" if ":" in reachable else f"http://{reachable}:{port}"


async def _until_ready(server: _Server, serving: asyncio.Task[None]) -> None:
    ready = asyncio.create_task(server.ready.wait())
    try:
        await asyncio.wait({ready, serving}, timeout=_STARTUP_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
    if not server.ready.is_set():
        server.should_exit = True
        if serving.done():
            serving.result()  # re-raise a startup crash as is
        raise RuntimeError("the Rollout sandbox did not start")
