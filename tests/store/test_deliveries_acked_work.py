"""Acked work recorded with its delivery claim: encrypted, leased, renewed by its owner, and taken over once its
lease runs out — by exactly one process, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.store.deliveries import Delivery, Lease, digest_of
from bot.store.schema import deliveries

NOW = datetime.now(UTC)
BODY = "token=x&user_id=UPLAINTEXTUSER&text=note+ada+Called+about+the+contract+renewal"


def _delivery(n: int = 0) -> Delivery:
    return Delivery(f"{BODY}&n={n}", "application/x-www-form-urlencoded")


async def test_a_claim_records_the_request_encrypted(store, raw_database, database_url) -> None:
    key = f"command:{NOW.timestamp()}:recorded"
    assert await store.deliveries.claim(key, (_delivery(), Lease("proc-a", NOW + timedelta(seconds=30))))
    assert not await store.deliveries.claim(key, (_delivery(), Lease("proc-b", NOW + timedelta(seconds=30))))

    async with raw_database(database_url) as database, database.read() as connection:
        row = (await connection.execute(sa.select(deliveries).where(deliveries.c.key_digest == digest_of(key)))).one()
    assert row.state == "running" and row.owner == "proc-a" and row.attempts == 1
    assert "contract+renewal" not in row.payload and "UPLAINTEXTUSER" not in row.payload  # stored encrypted


async def test_only_expired_work_is_taken_over_and_by_one_taker(store, open_store, database_url, encryption_keys):
    dead, alive = f"dead{NOW.timestamp()}", f"alive{NOW.timestamp()}"
    keys = [f"work:{dead}:{n}" for n in range(6)]
    for n, key in enumerate(keys):
        await store.deliveries.claim(key, (_delivery(n), Lease(dead, NOW - timedelta(seconds=1))))
    live_key = f"work:{alive}"
    await store.deliveries.claim(live_key, (_delivery(9), Lease(alive, NOW + timedelta(minutes=5))))

    async with open_store(database_url, encryption_keys) as other:
        taken = await asyncio.gather(
            store.deliveries.take_over(Lease("taker-1", NOW + timedelta(seconds=30)), NOW, limit=100),
            other.deliveries.take_over(Lease("taker-2", NOW + timedelta(seconds=30)), NOW, limit=100),
        )

    mine = {work.digest for batch in taken for work in batch} & {digest_of(k) for k in keys}
    assert mine == {digest_of(k) for k in keys}  # every expired one, each by one taker
    assert sum(len([w for w in batch if w.digest in mine]) for batch in taken) == len(keys)
    assert digest_of(live_key) not in {work.digest for batch in taken for work in batch}
    work = next(w for batch in taken for w in batch if w.digest == digest_of(keys[0]))
    assert work.attempts == 2 and work.delivery == _delivery(0)


async def test_renewing_keeps_only_the_owners_work_from_being_taken(store) -> None:
    owner, other = f"owner{NOW.timestamp()}", f"other{NOW.timestamp()}"
    await store.deliveries.claim(f"renew:{owner}", (_delivery(1), Lease(owner, NOW + timedelta(seconds=1))))
    await store.deliveries.claim(f"renew:{other}", (_delivery(2), Lease(other, NOW + timedelta(seconds=1))))

    assert await store.deliveries.renew(Lease(owner, NOW + timedelta(minutes=5))) >= 1
    later = NOW + timedelta(seconds=10)
    taken = await store.deliveries.take_over(Lease("taker", later + timedelta(seconds=30)), later, limit=100)

    digests = {work.digest for work in taken}
    assert digest_of(f"renew:{other}") in digests and digest_of(f"renew:{owner}") not in digests


async def test_finished_work_is_never_taken_over_and_is_pruned_later(store) -> None:
    key = f"finished:{NOW.timestamp()}"
    await store.deliveries.claim(key, (_delivery(3), Lease("gone", NOW - timedelta(seconds=1))))
    await store.deliveries.finish(digest_of(key))

    taken = await store.deliveries.take_over(Lease("taker", NOW + timedelta(seconds=30)), NOW, limit=100)
    assert digest_of(key) not in {work.digest for work in taken}
    running = f"still-running:{NOW.timestamp()}"
    await store.deliveries.claim(running, (_delivery(4), Lease("busy", NOW + timedelta(minutes=5))))
    await store.deliveries.prune(NOW + timedelta(days=2))
    assert not await store.deliveries.claim(running)  # running work outlives the pruning of old claims
    assert await store.deliveries.claim(key)  # a finished one's claim was pruned


async def test_facts_a_takeover_needs_are_kept(store) -> None:
    key = f"facts:{NOW.timestamp()}"
    await store.deliveries.claim(key, (_delivery(5), Lease("gone", NOW - timedelta(seconds=1))))
    await store.deliveries.note(digest_of(key), {"answer": {"channel": "C1", "ts": "1.2", "streamed": True}})
    await store.deliveries.note(digest_of(key), {"write": True})

    (work,) = [
        w for w in await store.deliveries.take_over(Lease("t", NOW), NOW, limit=100) if w.digest == digest_of(key)
    ]
    assert work.facts == {"answer": {"channel": "C1", "ts": "1.2", "streamed": True}, "write": True}
