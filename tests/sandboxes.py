"""The sandbox Rollout server as the tests start it: one set of credentials and one way to start it, for every suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.sandbox import Protocol, RunningSandbox, SandboxCrm, start_sandbox

CLIENT_ID = "rollout-test-client"
CLIENT_SECRET = "rollout-client-test-secret-" + "fedcba9876543210" * 4  # HS512 wants keys of at least 64 bytes


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
