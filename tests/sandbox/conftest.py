"""Token minting and a real MCP client per test, against the session `sandbox` (tests/conftest.py) or a
`fresh_sandbox`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from bot.sandbox import RunningSandbox
from tests.sandboxes import mint_token

Mint = Callable[..., str]
OpenSession = Callable[[str], AbstractAsyncContextManager[ClientSession]]


@pytest.fixture
def mint() -> Mint:
    return mint_token


@pytest.fixture
def subject(request: pytest.FixtureRequest) -> str:
    """A subject of this test alone, so tests sharing the sandbox never share CRM state."""
    return f"subject-{request.node.nodeid}"


@asynccontextmanager
async def mcp_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture
def open_session(sandbox: RunningSandbox) -> OpenSession:
    """An initialized MCP session with the shared sandbox, authenticated with the given token."""
    return lambda token: mcp_session(sandbox.url, token)


@pytest.fixture
def connect() -> Callable[[str, str], AbstractAsyncContextManager[ClientSession]]:
    """An initialized MCP session with any sandbox: `connect(url, token)`."""
    return mcp_session


def payload(result: Any) -> dict[str, Any]:
    """The JSON object in a tool result's text content (what a model reads)."""
    assert isinstance(result, CallToolResult)
    assert len(result.content) == 1
    block = result.content[0]
    assert isinstance(block, TextContent)
    decoded = json.loads(block.text)
    assert isinstance(decoded, dict)
    return decoded


@pytest.fixture
def read_payload() -> Callable[[Any], dict[str, Any]]:
    return payload


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def initialize_body() -> dict[str, Any]:
    return INITIALIZE


@pytest.fixture
def mcp_headers() -> dict[str, str]:
    return dict(MCP_HEADERS)
