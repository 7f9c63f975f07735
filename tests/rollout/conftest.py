"""The Rollout client against the real sandbox MCP server on a loopback port, with a SQLite store per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.rollout.client import RolloutClient
from bot.rollout.pool import SessionPool
from bot.rollout.tokens import TokenMinter, TokenService
from bot.rollout.tools import Capability
from bot.sandbox import RunningSandbox, SandboxCrm, start_sandbox
from bot.store import Store

CLIENT_ID = "rollout-test-client"
CLIENT_SECRET = "rollout-client-test-secret-" + "fedcba9876543210" * 4  # HS512 wants >= 64 bytes


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


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with start_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, crm=SandboxCrm(accounts_per_new_subject=1)
    ) as running:
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
    tool_names: dict[Capability, str | None] | None = None,
) -> Rig:
    clock = Clock()
    tokens = TokenService(TokenMinter(CLIENT_ID, secret, timedelta(minutes=15), clock=clock), store.users, clock=clock)
    pool = SessionPool(sandbox.url, tokens, max_sessions=max_sessions, idle_seconds=300, connect_timeout=timeout)
    client = RolloutClient(pool, timeout=timeout, tool_names=tool_names)
    return Rig(sandbox, store, tokens, pool, client, clock)


@pytest.fixture
async def rig(sandbox: RunningSandbox, store: Store) -> AsyncIterator[Rig]:
    built = make_rig(sandbox, store)
    yield built
    await built.pool.close()
