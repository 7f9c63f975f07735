"""Scheduled work on every backend: one row per key, each due row claimed by one process, finished work pruned."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.store import Store
from bot.store.deliveries import Lease

_earlier = itertools.count()


def ancient() -> datetime:
    """A due time before every other test's: a claim at it sees this test's rows only (PostgreSQL's database is shared
    by the tests, whose due rows would otherwise be claimed too)."""
    return datetime(2000, 1, 1, tzinfo=UTC) - timedelta(days=next(_earlier))


async def test_scheduling_the_same_work_twice_keeps_one(store: Store, make_user):
    user = make_user()
    now = datetime.now(UTC)
    added = await asyncio.gather(*(store.schedule.add(f"digest:{user}:d1", "digest", user, now) for _ in range(5)))
    assert sorted(added) == [False] * 4 + [True]


async def test_due_work_is_claimed_by_one_process_only(
    store: Store, make_user, open_store, database_url, encryption_keys
):
    user = make_user()
    now = ancient()
    for index in range(10):
        await store.schedule.add(f"work:{user}:{index}", "test", user, now - timedelta(seconds=index))
    await store.schedule.add(f"work:{user}:later", "test", user, now + timedelta(hours=1))
    async with open_store(database_url, encryption_keys) as other_process:
        claims = await asyncio.gather(
            *(
                process.schedule.claim_due(Lease(f"process {index}", now + timedelta(seconds=30)), now, 3)
                for index, process in enumerate([store, other_process] * 4)
            )
        )
    mine = [job.key for claimed in claims for job in claimed if job.user == user]
    assert len(mine) == len(set(mine)) == 10  # every due row once; the later one not yet


async def test_payloads_are_encrypted_and_cancelling_forgets_them(store: Store, make_user, raw_database, database_url):
    user = make_user()
    now = datetime.now(UTC)
    await store.schedule.add(f"reminder:{user}", "reminder", user, now, {"title": "Send the proposal"})
    async with raw_database(database_url) as database, database.read() as connection:
        payload = (
            await connection.execute(text("SELECT payload FROM scheduled_work WHERE user_id = :u"), {"u": user.user_id})
        ).scalar_one()
    assert "proposal" not in payload
    (pending,) = await store.schedule.pending(user, "reminder")
    assert pending.payload == {"title": "Send the proposal"}
    assert await store.schedule.cancel(user) == 1
    assert await store.schedule.get(pending.key, user) is not None
    assert (await store.schedule.get(pending.key, user)).payload == {}  # type: ignore[union-attr]


async def test_pruning_forgets_finished_work_only(store: Store, make_user):
    user = make_user()
    now = ancient()
    await store.schedule.add(f"done:{user}", "test", user, now)
    await store.schedule.add(f"pending:{user}", "test", user, now + timedelta(days=90))
    (done,) = await store.schedule.claim_due(Lease("me", now + timedelta(seconds=30)), now, 5)
    await store.schedule.finish(done.key, keep_payload=True)
    assert await store.schedule.prune(datetime.now(UTC) + timedelta(days=1)) >= 1
    assert await store.schedule.get(done.key, user) is None
    assert len(await store.schedule.pending(user, "test")) == 1


async def test_only_its_owner_dismisses_a_sent_reminder(store: Store, make_user):
    user, other = make_user(), make_user()
    now = ancient()
    await store.schedule.add(f"reminder:{user}", "reminder", user, now)
    (sent,) = await store.schedule.claim_due(Lease("me", now + timedelta(seconds=30)), now, 5)
    assert not await store.schedule.dismiss(sent.key, user)  # not sent yet
    await store.schedule.finish(sent.key, keep_payload=True)
    assert not await store.schedule.dismiss(sent.key, other)
    assert await store.schedule.dismiss(sent.key, user)
    assert not await store.schedule.dismiss(sent.key, user)  # once
