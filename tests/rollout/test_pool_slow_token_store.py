"""A new user's token is minted and stored before Rollout's connect timeout starts: a busy database isn't Rollout.

Under load the soak saw session opens give up after 10 s while minting that user's token waited for SQLite's one
writer; the user was told Rollout didn't answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import pytest

from bot.identity import SlackUser
from bot.sandbox import RunningSandbox
from bot.store import Store
from tests.sandboxes import make_rig

NEWCOMER = SlackUser("T1", "UNEWCOMER")


async def test_a_slow_token_write_does_not_count_against_rollouts_timeout(
    sandbox_of_each_era: RunningSandbox, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(sandbox_of_each_era, store, timeout=0.5)
    save = store.users.save_token

    async def busy_database(user: SlackUser, token: str, expires_at: datetime) -> None:
        with contextlib.suppress(TimeoutError):  # another writer holds the database for longer than the timeout
            await asyncio.wait_for(asyncio.Event().wait(), timeout=0.8)
        await save(user, token, expires_at)

    monkeypatch.setattr(store.users, "save_token", busy_database)
    try:
        tools = await rig.client.tools(NEWCOMER)
        assert isinstance(tools, list) and tools
    finally:
        await rig.pool.close()
