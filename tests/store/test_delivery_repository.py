from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import text

from bot.store import Store
from bot.store.schema import utc_now


def _key() -> str:
    return f"Ev{uuid.uuid4().hex}"


async def test_only_the_first_of_twenty_concurrent_claims_wins(store: Store):
    key = _key()

    claims = await asyncio.gather(*(store.deliveries.claim(key) for _ in range(20)))

    assert sorted(claims) == [False] * 19 + [True]
    assert await store.deliveries.claim(key) is False


async def test_claims_are_exclusive_across_processes(store: Store, database_url, encryption_keys, open_store):
    key = _key()
    async with open_store(database_url, encryption_keys) as other_process:
        claims = await asyncio.gather(
            *(process.deliveries.claim(key) for process in [store, other_process] * 10),
        )

    assert claims.count(True) == 1


async def test_different_keys_do_not_interfere(store: Store):
    first, second = _key(), _key()

    assert await store.deliveries.claim(first) is True
    assert await store.deliveries.claim(second) is True


async def test_long_keys_are_accepted(store: Store):
    key = "1716900000.123456:person.add_note:U123:" + "x" * 1000

    assert await store.deliveries.claim(key) is True
    assert await store.deliveries.claim(key) is False
    assert await store.deliveries.claim(key[:-1]) is True


async def test_prune_forgets_only_older_claims(store: Store):
    key = _key()
    await store.deliveries.claim(key)

    await store.deliveries.prune(utc_now() - timedelta(minutes=1))
    assert await store.deliveries.claim(key) is False

    assert await store.deliveries.prune(utc_now() + timedelta(seconds=1)) >= 1
    assert await store.deliveries.claim(key) is True


async def test_a_claim_waits_for_another_writer_rather_than_failing(store: Store, database_url, raw_database):
    async with raw_database(database_url) as database, database.write() as connection:
        await connection.execute(text("DELETE FROM deliveries WHERE key_digest = 'nothing'"))  # holds the write lock
        claiming = asyncio.create_task(store.deliveries.claim(_key()))
        done, _ = await asyncio.wait({claiming}, timeout=0.2)
        # PostgreSQL does not lock a table for one row's claim; SQLite's write lock covers the whole file.
        assert bool(done) == (database.dialect_name == "postgresql")
    assert await asyncio.wait_for(claiming, timeout=10) is True
