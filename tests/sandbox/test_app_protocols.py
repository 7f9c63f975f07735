"""The sandbox speaks the 2025-11-25 handshake, the 2026-07-28 stateless protocol, or both; pages its tool list; and
tells legacy sessions when its tool list changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from bot.sandbox import Protocol, RunningSandbox, start_sandbox
from tests.sandboxes import CLIENT_ID, CLIENT_SECRET, mint_token

ALL_TOOLS = {"list_credentials", "get_person_overview", "create_person", "create_note", "create_task"}


@asynccontextmanager
async def client(sandbox: RunningSandbox, mode: str = "auto", **options: object) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {mint_token('protocol-test-subject')}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(sandbox.url, http_client=http), mode=mode, cache=None, **options) as connected,
    ):
        yield connected


def innermost(error: BaseException) -> BaseException:
    """The error inside the task groups' wrapping."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


@asynccontextmanager
async def sandbox_of(protocol: Protocol, **options: object) -> AsyncIterator[RunningSandbox]:
    async with start_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, protocol=protocol, **options) as running:
        yield running


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [("legacy", HANDSHAKE_PROTOCOL_VERSIONS[-1]), ("modern", MODERN_PROTOCOL_VERSIONS[-1]), ("both", "2026-07-28")],
)
async def test_auto_negotiation_lands_on_the_served_era(protocol: Protocol, expected: str) -> None:
    async with sandbox_of(protocol) as sandbox:
        async with client(sandbox) as connected:
            assert connected.protocol_version == expected
            await connected.list_tools()
            result = await connected.call_tool("list_credentials", {})
            assert not result.is_error
        if expected in MODERN_PROTOCOL_VERSIONS:
            assert (sandbox.stats.discovers, sandbox.stats.initializations) == (1, 0)
            assert sandbox.stats.by_method == {"POST": 3}  # discover, list, call: no session on a stateless wire
        else:
            # The probe is refused before it reaches the server, then the handshake runs.
            assert (sandbox.stats.discovers, sandbox.stats.initializations) == (0, 1)


async def test_a_legacy_only_sandbox_refuses_modern_requests() -> None:
    async with sandbox_of("legacy") as sandbox:
        with pytest.raises(BaseExceptionGroup) as refused:
            async with client(sandbox, mode=MODERN_PROTOCOL_VERSIONS[-1]) as connected:
                await connected.call_tool("list_credentials", {})
        error = innermost(refused.value)
        assert isinstance(error, MCPError) and error.code == types.INVALID_REQUEST
        assert sandbox.stats.tool_calls.total() == 0


async def test_a_modern_only_sandbox_refuses_the_handshake_naming_its_versions() -> None:
    async with sandbox_of("modern") as sandbox:
        with pytest.raises(BaseExceptionGroup) as refused:
            async with client(sandbox, mode="legacy"):
                pass
        error = innermost(refused.value)
        assert isinstance(error, MCPError) and error.code == types.UNSUPPORTED_PROTOCOL_VERSION
        assert error.error.data is not None and error.error.data["supported"] == list(MODERN_PROTOCOL_VERSIONS)
        assert sandbox.stats.initializations == 0


async def test_both_serves_a_legacy_client_too() -> None:
    async with sandbox_of("both") as sandbox, client(sandbox, mode="legacy") as connected:
        assert connected.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
        assert not (await connected.call_tool("list_credentials", {})).is_error


async def test_modern_tool_lists_and_discover_carry_public_freshness_hints() -> None:
    async with sandbox_of("modern", tools_ttl_ms=1234) as sandbox, client(sandbox) as connected:
        discovered = connected.session.discover_result
        assert discovered is not None and discovered.ttl_ms > 0 and discovered.cache_scope == "public"
        listed = await connected.list_tools()
        assert (listed.ttl_ms, listed.cache_scope) == (1234, "public")


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_tool_list_pages_hold_every_tool_once(protocol: Protocol) -> None:
    async with sandbox_of(protocol, tools_page_size=2) as sandbox, client(sandbox) as connected:
        names: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await connected.list_tools(cursor=cursor)
            pages += 1
            assert len(page.tools) <= 2
            names += [tool.name for tool in page.tools]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == 3
        assert sorted(names) == sorted(ALL_TOOLS)
        assert sandbox.stats.tool_lists == 3
        with pytest.raises(MCPError):
            await connected.list_tools(cursor="not-a-cursor")


async def test_without_a_page_size_the_list_is_one_page() -> None:
    async with sandbox_of("both") as sandbox, client(sandbox) as connected:
        listed = await connected.list_tools()
        assert {tool.name for tool in listed.tools} == ALL_TOOLS and listed.next_cursor is None


async def test_a_changed_tool_list_is_announced_to_a_legacy_session_once_per_change() -> None:
    announced: asyncio.Queue[None] = asyncio.Queue()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            announced.put_nowait(None)

    async def archive_person(personId: str) -> str:
        return personId

    async with sandbox_of("legacy") as sandbox, client(sandbox, message_handler=on_message) as connected:
        await connected.call_tool("list_credentials", {})
        sandbox.add_tool(archive_person, name="archive_person", description="Archive a person.")
        await connected.call_tool("list_credentials", {})  # its response stream carries the announcement
        await asyncio.wait_for(announced.get(), 5)
        assert "archive_person" in {tool.name for tool in (await connected.list_tools()).tools}
        sandbox.remove_tool("archive_person")
        await connected.call_tool("list_credentials", {})
        await asyncio.wait_for(announced.get(), 5)
        assert "archive_person" not in {tool.name for tool in (await connected.list_tools()).tools}
        await connected.call_tool("list_credentials", {})
        await connected.list_tools()
    assert announced.empty()  # told once per change, not on every request
