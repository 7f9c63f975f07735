"""Slack gives an app 3 seconds to ack. The ack must not wait for anything slow: not Rollout, not the database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

from tests.harness import AppHarness

ADA = "ada.lovelace@analytical-engines.example"


@contextmanager
def _database_busy(harness: AppHarness) -> Iterator[None]:
    """Another writer holds the SQLite write lock (a migration, a burst of writes) until the block ends."""
    path = make_url(harness.services.settings.database_url).database
    assert path
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_a_slash_command_is_acked_at_once_while_the_database_is_busy(quick_app: AppHarness) -> None:
    harness = quick_app
    user = harness.new_user()

    with _database_busy(harness):
        async with asyncio.timeout(2.5):  # Slack gives up at 3 s and shows the user an error
            sent = await harness.command(user, f"overview {ADA}")
        assert sent.status == 200
    await harness.settle()

    cards = [c for c in harness.slack.calls_to("response_url") if c.contains("Ada Lovelace")]
    assert len(cards) == 1  # and the work the ack promised still happened, once


async def test_a_slow_rollout_does_not_delay_the_ack(quick_app: AppHarness) -> None:
    harness = quick_app
    user = harness.new_user()
    harness.sandbox.set_latency(2.0)

    async with asyncio.timeout(1.0):
        sent = await harness.command(user, f"overview {ADA}")

    assert sent.status == 200
