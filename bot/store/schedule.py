"""Work due at a time (morning digests, task reminders), digest settings, and the shared budget of scheduled reads.

A scheduled row is claimed like acked work (bot/store/deliveries.py): under a process's lease, each row by one caller
only (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: its one writer), and taken over by any process once the lease runs
out. Its key makes each digest and each reminder one row however often it is scheduled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.sql import ColumnElement

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.deliveries import Lease
from bot.store.schema import as_utc, digest_settings, rollout_read_budget, scheduled_work, utc_now
from bot.store.token_cipher import TokenCipher

PENDING, RUNNING, DONE, DISMISSED, CANCELLED = "pending", "running", "done", "dismissed", "cancelled"


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    key: str  # the row's key digest: what buttons carry to name it
    kind: str
    user: SlackUser
    due_at: datetime
    state: str
    attempts: int
    payload: dict[str, Any] = field(repr=False)
    facts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DigestSettings:
    enabled: bool = True
    time_zone: str | None = None
    time_zone_checked_at: datetime | None = None


class ScheduleRepository:
    def __init__(self, database: Database, cipher: TokenCipher) -> None:
        self._database = database
        self._cipher = cipher

    async def add(
        self, key: str, kind: str, user: SlackUser, due_at: datetime, payload: Mapping[str, Any] | None = None
    ) -> bool:
        """Schedule work; False when work with this key exists already (scheduled twice, by any process)."""
        now = utc_now()
        statement = (
            self._database.insert(scheduled_work)
            .values(
                key_digest=key_digest(key),
                kind=kind,
                team_id=user.team_id,
                user_id=user.user_id,
                due_at=as_utc(due_at),
                state=PENDING,
                attempts=0,
                payload=None if payload is None else self._seal(user, payload),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[scheduled_work.c.key_digest])
        )
        async with self._database.write() as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def claim_due(self, lease: Lease, now: datetime, limit: int) -> list[ScheduledJob]:
        """Work that is due, and running work whose process stopped renewing its lease: now `lease.owner`'s."""
        c = scheduled_work.c
        due = (c.state == PENDING) & (c.due_at <= as_utc(now))
        abandoned = (c.state == RUNNING) & (c.lease_until < as_utc(now))
        query = select(scheduled_work).where(or_(due, abandoned)).order_by(c.due_at).limit(limit)
        if self._database.dialect_name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        async with self._database.write() as connection:
            rows = (await connection.execute(query)).all()
            taken: set[str] = set()
            if rows:
                # Only rows still claimable when the UPDATE runs: SKIP LOCKED already keeps processes apart, and this
                # keeps each row one process's even where the SELECT could not lock it.
                result = await connection.execute(
                    update(scheduled_work)
                    .where(c.key_digest.in_([row.key_digest for row in rows]) & or_(due, abandoned))
                    .values(
                        state=RUNNING,
                        owner=lease.owner,
                        lease_until=as_utc(lease.until),
                        attempts=c.attempts + 1,
                        updated_at=utc_now(),
                    )
                    .returning(c.key_digest)
                )
                taken = set(result.scalars())
        return [
            self._job(row, attempts=int(row.attempts) + 1, state=RUNNING) for row in rows if row.key_digest in taken
        ]

    async def renew(self, lease: Lease) -> int:
        c = scheduled_work.c
        async with self._database.write() as connection:
            result = await connection.execute(
                update(scheduled_work)
                .where((c.owner == lease.owner) & (c.state == RUNNING))
                .values(lease_until=as_utc(lease.until))
            )
        return result.rowcount

    async def note(self, key: str, facts: Mapping[str, Any]) -> None:
        """Add to what the work has done so far, before doing the next thing (a DM about to be sent)."""
        async with self._database.write() as connection:
            row = (
                await connection.execute(select(scheduled_work.c.facts).where(scheduled_work.c.key_digest == key))
            ).one_or_none()
            if row is not None:
                merged = {**(row.facts or {}), **facts}
                await connection.execute(
                    update(scheduled_work).where(scheduled_work.c.key_digest == key).values(facts=merged)
                )

    async def later(self, key: str, due_at: datetime, facts: Mapping[str, Any] | None = None) -> None:
        """Run it again at `due_at` (by any process), keeping what it did so far."""
        values: dict[str, Any] = {"state": PENDING, "due_at": as_utc(due_at), "owner": None, "lease_until": None}
        async with self._database.write() as connection:
            if facts:
                row = (
                    await connection.execute(select(scheduled_work.c.facts).where(scheduled_work.c.key_digest == key))
                ).one_or_none()
                values["facts"] = {**((row.facts if row else None) or {}), **facts}
            await connection.execute(
                update(scheduled_work).where(scheduled_work.c.key_digest == key).values(**values, updated_at=utc_now())
            )

    async def finish(self, key: str, *, keep_payload: bool = False) -> None:
        """Done. A sent reminder keeps its payload while its buttons can be clicked (pruned with retention)."""
        values: dict[str, Any] = {"state": DONE, "owner": None, "lease_until": None, "updated_at": utc_now()}
        if not keep_payload:
            values["payload"] = None
        async with self._database.write() as connection:
            await connection.execute(update(scheduled_work).where(scheduled_work.c.key_digest == key).values(**values))

    async def get(self, key: str, user: SlackUser) -> ScheduledJob | None:
        """The work named by `key` if it is `user`'s: a button's value never reaches someone else's."""
        query = select(scheduled_work).where((scheduled_work.c.key_digest == key) & _of(user))
        async with self._database.read() as connection:
            row = (await connection.execute(query)).one_or_none()
        return None if row is None else self._job(row)

    async def dismiss(self, key: str, user: SlackUser) -> bool:
        """The user is done with a sent reminder; True for the click that dismissed it."""
        c = scheduled_work.c
        async with self._database.write() as connection:
            result = await connection.execute(
                update(scheduled_work)
                .where((c.key_digest == key) & _of(user) & (c.state == DONE))
                .values(state=DISMISSED, updated_at=utc_now())
            )
        return result.rowcount == 1

    async def cancel_one(self, key: str, user: SlackUser) -> bool:
        """Cancel one piece of the user's work not yet done (a snoozed reminder the user marked done)."""
        c = scheduled_work.c
        async with self._database.write() as connection:
            result = await connection.execute(
                update(scheduled_work)
                .where((c.key_digest == key) & _of(user) & c.state.in_((PENDING, RUNNING)))
                .values(state=CANCELLED, payload=None, updated_at=utc_now())
            )
        return result.rowcount == 1

    async def cancel(self, user: SlackUser, *, kind: str | None = None) -> int:
        """Cancel the user's work not yet done (and forget what it holds); returns how many."""
        c = scheduled_work.c
        open_work = _of(user) & c.state.in_((PENDING, RUNNING))
        if kind is not None:
            open_work &= c.kind == kind
        async with self._database.write() as connection:
            await connection.execute(
                update(scheduled_work).where(_of(user) & c.state.not_in((PENDING, RUNNING))).values(payload=None)
            )
            result = await connection.execute(
                update(scheduled_work).where(open_work).values(state=CANCELLED, payload=None, updated_at=utc_now())
            )
        return result.rowcount

    async def pending(self, user: SlackUser, kind: str) -> list[ScheduledJob]:
        c = scheduled_work.c
        query = select(scheduled_work).where(_of(user) & (c.kind == kind) & (c.state == PENDING)).order_by(c.due_at)
        async with self._database.read() as connection:
            return [self._job(row) for row in (await connection.execute(query)).all()]

    async def prune(self, older_than: datetime) -> int:
        """Forget finished work last touched before `older_than` (retention: a sent reminder holds a task's title)."""
        c = scheduled_work.c
        finished = c.state.in_((DONE, DISMISSED, CANCELLED)) & (c.updated_at < as_utc(older_than))
        async with self._database.write() as connection:
            return (await connection.execute(delete(scheduled_work).where(finished))).rowcount

    def _seal(self, user: SlackUser, payload: Mapping[str, Any]) -> str:
        return self._cipher.encrypt(user, json.dumps(payload, ensure_ascii=False, sort_keys=True))

    def _job(self, row: Any, *, attempts: int | None = None, state: str | None = None) -> ScheduledJob:
        user = SlackUser(row.team_id, row.user_id)
        payload: Any = None
        if row.payload is not None:
            plain = self._cipher.decrypt(user, row.payload)
            payload = None if plain is None else json.loads(plain)
        return ScheduledJob(
            key=row.key_digest,
            kind=row.kind,
            user=user,
            due_at=row.due_at,
            state=state or row.state,
            attempts=int(row.attempts) if attempts is None else attempts,
            payload=payload if isinstance(payload, dict) else {},
            facts=dict(row.facts or {}),
        )


class DigestSettingsRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, user: SlackUser) -> DigestSettings:
        query = select(digest_settings).where(
            (digest_settings.c.team_id == user.team_id) & (digest_settings.c.user_id == user.user_id)
        )
        async with self._database.read() as connection:
            row = (await connection.execute(query)).one_or_none()
        if row is None:
            return DigestSettings()
        return DigestSettings(bool(row.enabled), row.time_zone, row.time_zone_checked_at)

    async def set_enabled(self, user: SlackUser, enabled: bool) -> None:
        await self._upsert(user, enabled=enabled)

    async def set_time_zone(self, user: SlackUser, time_zone: str | None, checked_at: datetime) -> None:
        await self._upsert(user, time_zone=time_zone, time_zone_checked_at=as_utc(checked_at))

    async def _upsert(self, user: SlackUser, **values: Any) -> None:
        now = utc_now()
        row = {"team_id": user.team_id, "user_id": user.user_id, "enabled": True, "updated_at": now, **values}
        insert = self._database.insert(digest_settings).values(**row)
        upsert = insert.on_conflict_do_update(
            index_elements=[digest_settings.c.team_id, digest_settings.c.user_id], set_={**values, "updated_at": now}
        )
        async with self._database.write() as connection:
            await connection.execute(upsert)


class ReadBudgetRepository:
    """How many overviews scheduled work read per workspace and minute, across every process."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def take(self, team_id: str, minute: datetime, wanted: int, per_minute: int) -> int:
        """Up to `wanted` reads of this minute's budget; how many were granted (0: wait for the next minute)."""
        b = rollout_read_budget.c
        this_minute = (b.team_id == team_id) & (b.minute == as_utc(minute))
        async with self._database.write() as connection:
            await connection.execute(
                self._database.insert(rollout_read_budget)
                .values(team_id=team_id, minute=as_utc(minute), reads=0)
                .on_conflict_do_nothing()
            )
            used_query = select(b.reads).where(this_minute)
            if self._database.dialect_name == "postgresql":
                used_query = used_query.with_for_update()  # processes take from one minute's budget in turn
            used = int((await connection.execute(used_query)).scalar_one())
            granted = max(0, min(wanted, per_minute - used))
            if granted:
                await connection.execute(update(rollout_read_budget).where(this_minute).values(reads=used + granted))
        return granted

    async def prune(self, older_than: datetime) -> int:
        async with self._database.write() as connection:
            result = await connection.execute(
                delete(rollout_read_budget).where(rollout_read_budget.c.minute < as_utc(older_than))
            )
        return result.rowcount


def key_digest(key: str) -> str:
    # Keys are built from Slack and CRM ids of any length; a digest always fits the column.
    return hashlib.sha256(key.encode()).hexdigest()


def _of(user: SlackUser) -> ColumnElement[bool]:
    return and_(scheduled_work.c.team_id == user.team_id, scheduled_work.c.user_id == user.user_id)
