"""Housekeeping while serving: forget old delivery claims and expired parked requests, so the tables stay small."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.store import Store

log = logging.getLogger(__name__)

# Slack stops retrying a delivery within minutes; a day of claims is far more than de-duplication needs.
KEEP_DELIVERY_CLAIMS = timedelta(days=1)


async def prune_once(store: Store, now: datetime) -> tuple[int, int]:
    claims = await store.deliveries.prune(now - KEEP_DELIVERY_CLAIMS)
    parked = await store.parked.prune(now)
    return claims, parked


async def prune_forever(store: Store, every: timedelta = timedelta(hours=1)) -> None:
    while True:
        try:
            claims, parked = await prune_once(store, datetime.now(UTC))
            log.info("pruned %d delivery claims and %d expired requests", claims, parked)
        except SQLAlchemyError as error:  # the database may be briefly away; try again next round
            log.warning("pruning failed: %s", type(error).__name__)
        await asyncio.sleep(every.total_seconds())
