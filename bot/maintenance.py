"""Housekeeping while serving: forget old delivery claims and expired parked requests, so the tables stay small, and
delete conversations, approvals and activity once they are older than the retention period."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.store import RetentionBatch, Store

log = logging.getLogger(__name__)

# Slack stops retrying a delivery within minutes; a day of claims is far more than de-duplication needs.
KEEP_DELIVERY_CLAIMS = timedelta(days=1)
DEFAULT_RETENTION = timedelta(days=30)
# Budgets look at today only; yesterday stays for whoever wants to look at it.
KEEP_USAGE_DAYS = timedelta(days=2)
# The budget of scheduled reads counts per minute: an hour is plenty to look back at.
KEEP_READ_BUDGET = timedelta(hours=1)
# Rows of each kind per transaction: short transactions keep SQLite's single writer and PostgreSQL's locks free for
# the requests being served meanwhile.
RETENTION_BATCH_ROWS = 500


@dataclass(frozen=True, slots=True)
class Pruned:
    claims: int
    parked: int
    retention: RetentionBatch | None  # None: another process is doing the retention round


async def prune_once(
    store: Store,
    now: datetime,
    *,
    retention: timedelta = DEFAULT_RETENTION,
    batch_rows: int = RETENTION_BATCH_ROWS,
) -> Pruned:
    claims = await store.deliveries.prune(now - KEEP_DELIVERY_CLAIMS)
    parked = await store.parked.prune(now)
    await store.usage.prune(now.date() - KEEP_USAGE_DAYS)
    await store.read_budget.prune(now - KEEP_READ_BUDGET)
    # CRM data kept for digests and reminders goes with retention like the rest.
    await store.follows.forget_overviews(now - retention)
    await store.schedule.prune(now - retention)
    return Pruned(claims, parked, await apply_retention(store, now, retention, batch_rows))


async def apply_retention(
    store: Store, now: datetime, retention: timedelta, batch_rows: int = RETENTION_BATCH_ROWS
) -> RetentionBatch | None:
    """Batch after batch until a batch finds less than a full load of every kind; None if another process holds it."""
    deleted = RetentionBatch()
    while True:
        batch = await store.retention.delete_batch(now - retention, now, batch_rows)
        if batch is None:
            return None if deleted.total == 0 else deleted
        deleted += batch
        if max(batch.messages, batch.conversations, batch.approvals, batch.activity) < batch_rows:
            return deleted
        await asyncio.sleep(0)  # let requests in between batches


async def prune_forever(
    store: Store,
    every: timedelta = timedelta(hours=1),
    *,
    retention: timedelta = DEFAULT_RETENTION,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    while True:
        try:
            pruned = await prune_once(store, clock(), retention=retention)
            kept = pruned.retention
            log.info(
                "pruned %d delivery claims and %d expired requests; retention: %s",
                pruned.claims,
                pruned.parked,
                "another process"
                if kept is None
                else f"{kept.messages} messages, {kept.conversations} conversations, "
                f"{kept.approvals} approvals, {kept.activity} activity entries",
            )
        except Exception as error:  # the database may be briefly away (or a round hit a bug): try again next round
            log.warning("pruning failed: %s", type(error).__name__)
        await asyncio.sleep(every.total_seconds())
