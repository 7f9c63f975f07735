"""Exactly-once handling of Slack deliveries: whoever inserts a delivery's key first does the work."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete

from bot.store.database import Database
from bot.store.schema import as_utc, deliveries, utc_now


class DeliveryRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def claim(self, key: str) -> bool:
        """True for the first caller ever to claim `key` (in any process); False for everyone after."""
        if not key:
            raise ValueError("a delivery key must not be empty")
        async with self._database.write() as connection:
            result = await connection.execute(
                self._database.insert(deliveries)
                .values(key_digest=_digest(key), claimed_at=utc_now())
                .on_conflict_do_nothing(index_elements=[deliveries.c.key_digest])
            )
        return result.rowcount == 1

    async def prune(self, older_than: datetime) -> int:
        """Forget claims made before `older_than` (Slack stops retrying after minutes)."""
        async with self._database.write() as connection:
            result = await connection.execute(delete(deliveries).where(deliveries.c.claimed_at < as_utc(older_than)))
        return result.rowcount


def _digest(key: str) -> str:
    # Keys are built from Slack fields of any length; a digest always fits the column.
    return hashlib.sha256(key.encode()).hexdigest()
