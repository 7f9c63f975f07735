"""The Rollout client against the real sandbox MCP server on a loopback port, with a SQLite store per test.

Every test using `sandbox` runs twice: against a 2025-11-25 (legacy, initialize handshake) and a 2026-07-28 (modern,
stateless) sandbox.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.rollout.client import RolloutClient
from bot.rollout.pool import SessionPool
from bot.rollout.tokens import TokenMinter, TokenService
from bot.rollout.tools import Capability
from bot.sandbox import Protocol, RunningSandbox
from bot.store import Store
from tests.sandboxes import CLIENT_ID, CLIENT_SECRET, running_sandbox


class Clock:
    """A clock tests move by hand, so token expiry is tested without waiting."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Rig:
    sandbox: RunningSandbox
    store: Store
    tokens: TokenService
    pool: SessionPool
    client: RolloutClient
    clock: Clock


ERAS: tuple[Protocol, ...] = ("legacy", "modern")


@pytest.fixture(params=ERAS)
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[RunningSandbox]:
    """A sandbox of one era; `sandbox.protocol` says which."""
    async with running_sandbox(protocol=request.param) as running:
        yield running


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'rollout.db'}", [Fernet.generate_key().decode()])
    await opened.migrate()
    yield opened
    await opened.close()


def make_rig(
    sandbox: RunningSandbox,
    store: Store,
    *,
    secret: str = CLIENT_SECRET,
    timeout: float = 5.0,
    max_sessions: int = 16,
    idle_seconds: float = 300,
    tool_names: dict[Capability, str | None] | None = None,
    cache_clock: Callable[[], float] = time.time,
) -> Rig:
    clock = Clock()
    tokens = TokenService(TokenMinter(CLIENT_ID, secret, timedelta(minutes=15), clock=clock), store.users, clock=clock)
    pool = SessionPool(
        sandbox.url,
        tokens,
        max_sessions=max_sessions,
        idle_seconds=idle_seconds,
        connect_timeout=timeout,
        cache_clock=cache_clock,
    )
    client = RolloutClient(pool, timeout=timeout, tool_names=tool_names, rollout_origin=sandbox.base_url)
    return Rig(sandbox, store, tokens, pool, client, clock)


@pytest.fixture
async def rig(sandbox: RunningSandbox, store: Store) -> AsyncIterator[Rig]:
    built = make_rig(sandbox, store)
    yield built
    await built.pool.close()
