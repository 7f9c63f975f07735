"""Exactly-once handling of Slack deliveries: whoever inserts a delivery's key first does the work.

A claim can carry the work its ack promised (bot/work.py): the Slack request itself, encrypted, owned by one process
under a lease. Recording it is part of the claim's one INSERT, not a second write.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.schema import as_utc, deliveries, utc_now
from bot.store.token_cipher import TokenCipher

RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A Slack request as it arrived: what it takes to handle it again."""

    body: str = field(repr=False)
    content_type: str


@dataclass(frozen=True, slots=True)
class Lease:
    owner: str
    until: datetime


@dataclass(frozen=True, slots=True)
class UnfinishedWork:
    """Acked work whose process stopped renewing its lease, now owned by the caller of `take_over`."""

    digest: str
    delivery: Delivery | None  # None when no key decrypts it any more
    attempts: int  # this one included
    facts: dict[str, Any]
    claimed_at: datetime


class DeliveryRepository:
    def __init__(self, database: Database, cipher: TokenCipher) -> None:
        self._database = database
        self._cipher = cipher

    async def claim(self, key: str, work: tuple[Delivery, Lease] | None = None) -> bool:
        """True for the first caller ever to claim `key` (in any process); False for everyone after.

        With `work`, the claim also records the request to run again should this process die before it is done.
        """
        if not key:
            raise ValueError("a delivery key must not be empty")
        digest = digest_of(key)
        values: dict[str, Any] = {"key_digest": digest, "claimed_at": utc_now()}
        if work is not None:
            delivery, lease = work
            values.update(
                state=RUNNING,
                payload=self._cipher.encrypt(_sealed_for(digest), delivery.body),
                content_type=delivery.content_type,
                owner=lease.owner,
                lease_until=as_utc(lease.until),
                attempts=1,
            )
        async with self._database.write() as connection:
            result = await connection.execute(
                self._database.insert(deliveries)
                .values(**values)
                .on_conflict_do_nothing(index_elements=[deliveries.c.key_digest])
            )
        return result.rowcount == 1

    async def finish(self, digest: str, *, failed: bool = False) -> None:
        async with self._database.write() as connection:
            await connection.execute(
                update(deliveries)
                .where(deliveries.c.key_digest == digest)
                .values(state=FAILED if failed else DONE, payload=None, lease_until=None)
            )

    async def note(self, digest: str, facts: dict[str, Any]) -> None:
        """Add to what the work has done so far (a write sent, a message to close if it is interrupted)."""
        async with self._database.write() as connection:
            row = (
                await connection.execute(select(deliveries.c.facts).where(deliveries.c.key_digest == digest))
            ).one_or_none()
            if row is None:
                return
            merged = {**(row.facts or {}), **facts}
            await connection.execute(update(deliveries).where(deliveries.c.key_digest == digest).values(facts=merged))

    async def renew(self, lease: Lease) -> int:
        """Extend every lease `lease.owner` holds on running work."""
        async with self._database.write() as connection:
            result = await connection.execute(
                update(deliveries)
                .where((deliveries.c.owner == lease.owner) & (deliveries.c.state == RUNNING))
                .values(lease_until=as_utc(lease.until))
            )
        return result.rowcount

    async def take_over(self, lease: Lease, now: datetime, limit: int) -> list[UnfinishedWork]:
        """Running work whose lease ran out, now `lease.owner`'s: each row goes to one caller only, across
        processes (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: its one writer)."""
        c = deliveries.c
        expired = (
            select(c.key_digest, c.payload, c.content_type, c.attempts, c.facts, c.claimed_at)
            .where((c.state == RUNNING) & (c.lease_until < as_utc(now)))
            .order_by(c.lease_until)
            .limit(limit)
        )
        if self._database.dialect_name == "postgresql":
            expired = expired.with_for_update(skip_locked=True)
        async with self._database.write() as connection:
            rows = (await connection.execute(expired)).all()
            if rows:
                await connection.execute(
                    update(deliveries)
                    .where(c.key_digest.in_([row.key_digest for row in rows]))
                    .values(owner=lease.owner, lease_until=as_utc(lease.until), attempts=c.attempts + 1)
                )
        return [
            UnfinishedWork(
                digest=row.key_digest,
                delivery=self._opened(row.key_digest, row.payload, row.content_type),
                attempts=int(row.attempts or 0) + 1,
                facts=dict(row.facts or {}),
                claimed_at=row.claimed_at,
            )
            for row in rows
        ]

    async def prune(self, older_than: datetime) -> int:
        """Forget claims made before `older_than` (Slack stops retrying after minutes), except work still running."""
        old = deliveries.c.claimed_at < as_utc(older_than)
        settled = or_(deliveries.c.state.is_(None), deliveries.c.state != RUNNING)
        async with self._database.write() as connection:
            result = await connection.execute(delete(deliveries).where(and_(old, settled)))
        return result.rowcount

    def _opened(self, digest: str, payload: str | None, content_type: str | None) -> Delivery | None:
        if payload is None:
            return None
        body = self._cipher.decrypt(_sealed_for(digest), payload)
        return None if body is None else Delivery(body, content_type or "")


def digest_of(key: str) -> str:
    # Keys are built from Slack fields of any length; a digest always fits the column.
    return hashlib.sha256(key.encode()).hexdigest()


def _sealed_for(digest: str) -> SlackUser:
    # The cipher binds a plaintext to its owner: here the delivery, so a payload copied onto another row won't open.
    return SlackUser("delivery", digest)
