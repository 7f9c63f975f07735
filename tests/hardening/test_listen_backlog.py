"""A burst of Slack deliveries while the event loop is busy must not have its connections dropped by the kernel."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.app import listen

BURST = 300  # more than aiohttp's default backlog of 128, well under ours


@pytest.fixture
async def runner() -> AsyncIterator[web.AppRunner]:
    runner = web.AppRunner(web.Application())
    await runner.setup()
    yield runner
    await runner.cleanup()


async def test_a_burst_of_connections_is_held_while_the_loop_is_busy(runner: web.AppRunner) -> None:
    await listen(runner, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    connections: list[socket.socket] = []
    held = 0
    try:
        # These blocking connects run on the loop's own thread, so the app accepts none of them: each completes only
        # if the kernel's queue for the listening socket has room. A dropped one is retried after a second, past the
        # timeout.
        for _ in range(BURST):
            connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            connections.append(connection)
            connection.settimeout(0.5)
            try:
                connection.connect((host, port))
            except TimeoutError:
                break
            held += 1
    finally:
        for connection in connections:
            connection.close()
    assert held == BURST
