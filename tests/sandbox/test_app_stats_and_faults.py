"""Counters and fault injection, each on a sandbox of its own so other tests' traffic cannot blur the numbers."""

from __future__ import annotations

import time
from collections import Counter

import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from bot.sandbox import RunningSandbox


async def test_counts_requests_initializations_and_tool_calls(fresh_sandbox: RunningSandbox, connect, mint, subject):
    async with connect(fresh_sandbox.url, mint(subject)) as session:
        await session.call_tool("list_credentials", {})
        await session.call_tool("get_person_overview", {"query": "ada"})
        await session.call_tool("get_person_overview", {"query": "grace"})
    after_session = fresh_sandbox.stats.http_requests
    async with httpx2.AsyncClient() as http:
        await http.post(fresh_sandbox.url, json={})  # refused (no token), still a request to /mcp
        await http.get(f"{fresh_sandbox.base_url}/mcp/credentials/x")  # the page is not /mcp

    assert fresh_sandbox.stats.initializations == 1
    assert fresh_sandbox.stats.tool_calls == Counter({"get_person_overview": 2, "list_credentials": 1})
    assert after_session >= 5  # initialize, initialized, 3 tool calls (and the GET stream, the DELETE)
    assert fresh_sandbox.stats.http_requests == after_session + 1


async def test_injected_500_then_restored(fresh_sandbox: RunningSandbox, connect, mint, subject, read_payload):
    async with connect(fresh_sandbox.url, mint(subject)) as session:
        fresh_sandbox.set_failure("500")
        with pytest.raises(MCPError):
            await session.call_tool("list_credentials", {})
        async with httpx2.AsyncClient() as http:
            raw = await http.post(fresh_sandbox.url, json={})
        fresh_sandbox.set_failure(None)
        restored = await session.call_tool("list_credentials", {})

    assert raw.status_code == 500
    assert fresh_sandbox.stats.tool_calls == Counter({"list_credentials": 1})  # the failed call never reached a tool
    assert not restored.is_error and read_payload(restored)["credentials"]


async def test_injected_drop_closes_the_connection_without_a_response(fresh_sandbox: RunningSandbox, mint, subject):
    headers = {"Authorization": f"Bearer {mint(subject)}"}
    async with httpx2.AsyncClient() as http:
        fresh_sandbox.set_failure("drop")
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.post(fresh_sandbox.url, json={}, headers=headers)
        fresh_sandbox.set_failure(None)
        restored = await http.post(fresh_sandbox.url, json={}, headers=headers)

    assert restored.status_code < 500  # answered again


async def test_injected_latency_delays_posts(fresh_sandbox: RunningSandbox):
    fresh_sandbox.set_latency(0.3)
    async with httpx2.AsyncClient() as http:
        started = time.monotonic()
        response = await http.post(fresh_sandbox.url, json={})
        elapsed = time.monotonic() - started

    assert response.status_code == 401  # delayed, then handled as usual
    assert elapsed >= 0.3
