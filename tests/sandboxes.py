"""The sandbox Rollout server as the tests start it: one set of credentials and one way to start it, for every suite;
tokens it accepts (`mint_token`), and the app's Rollout client wired to a sandbox (`make_rig`)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from bot.rollout.client import RolloutClient
from bot.rollout.pool import SessionPool
from bot.rollout.tokens import TokenMinter, TokenService
from bot.rollout.tools import Capability
from bot.sandbox import Protocol, RunningSandbox, SandboxCrm, start_sandbox
from bot.store import Store

CLIENT_ID = "rollout-test-client"
CLIENT_SECRET = "rollout-client-test-secret-" + "fedcba9876543210" * 4  # HS512 wants keys of at least 64 bytes
ERAS: tuple[Protocol, ...] = ("legacy", "modern")  # the 2025-11-25 handshake and the 2026-07-28 stateless protocol


@asynccontextmanager
async def running_sandbox(
    *, accounts: int = 1, protocol: Protocol = "both", **options: Any
) -> AsyncIterator[RunningSandbox]:
    """A sandbox on a free loopback port whose new users start with `accounts` CRM accounts."""
    crm = SandboxCrm(accounts_per_new_subject=accounts)
    async with start_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, crm=crm, protocol=protocol, **options
    ) as running:
        yield running


def mint_token(
    subject: str,
    *,
    ttl_seconds: int = 900,
    issuer: str = CLIENT_ID,
    secret: str = CLIENT_SECRET,
    algorithm: str = "HS512",
    drop_claims: tuple[str, ...] = (),
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "sub": subject, "iat": now, "exp": now + ttl_seconds}
    for claim in drop_claims:
        del claims[claim]
    return jwt.encode(claims, secret, algorithm=algorithm)


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
