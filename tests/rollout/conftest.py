"""The Rollout client against the real sandbox MCP server on a loopback port, with a SQLite store per test.

Every test using `rig` (or `sandbox_of_each_era`) runs twice: against a 2025-11-25 (legacy, initialize handshake) and a
2026-07-28 (modern, stateless) sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sandbox import RunningSandbox
from bot.store import Store
from tests.sandboxes import Rig, make_rig


@pytest.fixture
async def rig(sandbox_of_each_era: RunningSandbox, store: Store) -> AsyncIterator[Rig]:
    built = make_rig(sandbox_of_each_era, store)
    yield built
    await built.pool.close()
