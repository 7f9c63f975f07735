"""Retention deletes what is older than the period, in bounded batches, one process at a time; turns read only the
recent part of a thread."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from bot.maintenance import apply_retention, prune_once
from bot.store import ConversationKey, Store
from bot.store.retention import POSTGRES_RETENTION_LOCK_KEY
from bot.store.schema import activity, approvals, conversation_messages, conversations, utc_now

DAYS_30 = timedelta(days=30)


@pytest.fixture
async def empty_store(empty_database_url, encryption_keys, open_store) -> AsyncIterator[Store]:
    """Retention deletes across all users: it gets a database of its own."""
    async with open_store(empty_database_url, encryption_keys) as opened:
        await opened.migrate()
        yield opened


async def _count(raw_database, url: str, table) -> int:
    async with raw_database(url) as database, database.read() as connection:
        return (await connection.execute(select(func.count()).select_from(table))).scalar_one()


async def _age(raw_database, url: str, days: int) -> None:
    """Move everything stored so far `days` into the past, as if it had been written then."""
    shift = timedelta(days=days)
    async with raw_database(url) as database, database.write() as connection:
        for table, columns in (
            (conversations, ("created_at", "updated_at")),
            (conversation_messages, ("created_at",)),
            (approvals, ("created_at", "updated_at", "expires_at")),
            (activity, ("created_at",)),
        ):
            for row in (await connection.execute(select(table))).mappings().all():
                key = [table.c[name] == row[name] for name in (c.name for c in table.primary_key.columns)]
                await connection.execute(
                    update(table).where(*key).values({name: row[name] - shift for name in columns})
                )


async def _fill(store: Store, make_user, thread: str) -> ConversationKey:
    user = make_user()
    key = ConversationKey(user.team_id, "C1", thread)
    await store.conversations.append(key, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    await store.approvals.create(user, "create_note", {"a": 1}, "note", key, utc_now() + timedelta(minutes=10))
    await store.activity.record(user, "did a thing")
    return key


async def test_rows_older_than_the_period_go_and_newer_ones_stay(
    empty_store: Store, empty_database_url, raw_database, make_user
):
    old = await _fill(empty_store, make_user, "1.000001")
    await _age(raw_database, empty_database_url, days=31)
    new = await _fill(empty_store, make_user, "1.000002")

    pruned = await prune_once(empty_store, utc_now(), retention=DAYS_30)

    assert pruned.retention is not None
    assert (pruned.retention.messages, pruned.retention.conversations) == (2, 1)
    assert (pruned.retention.approvals, pruned.retention.activity) == (1, 1)
    assert await empty_store.conversations.load(old) == []
    assert len(await empty_store.conversations.load(new)) == 2
    for table in (conversations, approvals, activity):
        assert await _count(raw_database, empty_database_url, table) == 1


async def test_nothing_goes_before_the_period_is_over(empty_store: Store, empty_database_url, raw_database, make_user):
    await _fill(empty_store, make_user, "1.000003")
    await _age(raw_database, empty_database_url, days=29)

    pruned = await prune_once(empty_store, utc_now(), retention=DAYS_30)

    assert pruned.retention is not None and pruned.retention.total == 0
    assert await _count(raw_database, empty_database_url, conversation_messages) == 2


async def test_an_approval_that_can_still_be_decided_is_kept_however_old(
    empty_store: Store, empty_database_url, raw_database, make_user
):
    user = make_user()
    record = await empty_store.approvals.create(user, "create_note", {}, "note", None, utc_now() + timedelta(days=40))
    await _age(raw_database, empty_database_url, days=31)  # created 31 days ago, still open for 9 more days

    await apply_retention(empty_store, utc_now(), DAYS_30)
    assert await empty_store.approvals.get(record.id) is not None

    await apply_retention(empty_store, utc_now() + timedelta(days=10), DAYS_30)
    assert await empty_store.approvals.get(record.id) is None


def _proposal(number: int) -> list[dict]:
    """A turn that ended proposing a write: the tool_use an Approve click will answer, and its pending marker."""
    tool_use = {"type": "tool_use", "id": f"toolu_{number}", "name": "create_note", "input": {"content": "hi"}}
    return [
        {"role": "user", "content": [{"type": "text", "text": f"add note {number}"}]},
        {
            "role": "assistant",
            "content": [tool_use],
            "pending": {"approval_id": f"a{number}", "tool_use_id": f"toolu_{number}"},
        },
    ]


async def test_a_conversation_with_an_approval_that_can_still_be_decided_is_kept_however_old(
    empty_store: Store, empty_database_url, raw_database, make_user
):
    """Approving continues the stored turn (the tool_use it answers, the people it names), and an approval may stay
    open for longer than the retention period."""
    user = make_user()
    later = utc_now() + timedelta(days=40)
    keys = [ConversationKey(user.team_id, "C1", f"1.00002{n}") for n in range(4)]
    for number, key in enumerate(keys):
        await empty_store.conversations.append(key, _proposal(number), user=user)
    pending = await empty_store.approvals.create(user, "create_note", {}, "note", keys[0], later)
    approved = await empty_store.approvals.create(user, "create_note", {}, "note", keys[1], later)
    assert await empty_store.approvals.transition(
        approved.id, from_status="pending", to_status="approved", now=utc_now()
    )
    cancelled = await empty_store.approvals.create(user, "create_note", {}, "note", keys[2], later)
    assert await empty_store.approvals.transition(
        cancelled.id, from_status="pending", to_status="cancelled", now=utc_now()
    )
    await empty_store.approvals.create(user, "create_note", {}, "note", keys[3], utc_now() + timedelta(days=1))
    await empty_store.approvals.create(user, "create_note", {}, "note", None, later)  # proposed outside any thread
    await _age(raw_database, empty_database_url, days=31)  # still open for 9 more days; the last one expired

    pruned = await apply_retention(empty_store, utc_now(), DAYS_30)

    assert pruned is not None and (pruned.messages, pruned.conversations) == (4, 2)
    assert await empty_store.conversations.load(keys[0]) == _proposal(0)
    assert await empty_store.conversations.load(keys[1]) == _proposal(1)  # approved, its write not yet sent
    assert await empty_store.conversations.load(keys[2]) == []  # decided: nothing will read it again
    assert await empty_store.conversations.load(keys[3]) == []  # expired: can't be decided any more
    assert await _count(raw_database, empty_database_url, conversations) == 2

    # Once the approvals expire, their conversations go like any other.
    pruned = await apply_retention(empty_store, utc_now() + timedelta(days=10), DAYS_30)
    assert pruned is not None and (pruned.messages, pruned.conversations) == (4, 2)
    assert await empty_store.approvals.get(pending.id) is None


async def test_batches_are_bounded_and_repeat_until_done(
    empty_store: Store, empty_database_url, raw_database, make_user
):
    user = make_user()
    for number in range(5):
        await empty_store.activity.record(user, f"entry {number}")
    later = utc_now() + timedelta(days=31)

    first = await empty_store.retention.delete_batch(later - DAYS_30, later, limit=2)
    assert first is not None and first.activity == 2
    assert await _count(raw_database, empty_database_url, activity) == 3

    rest = await apply_retention(empty_store, later, DAYS_30, batch_rows=2)
    assert rest is not None and rest.activity == 3
    assert await _count(raw_database, empty_database_url, activity) == 0


async def test_one_process_at_a_time_on_postgresql(
    backend, empty_store: Store, empty_database_url, raw_database, make_user
):
    if backend != "postgresql":
        pytest.skip("SQLite serves one process; its write transaction is the lock")
    await empty_store.activity.record(make_user(), "old")
    later = utc_now() + timedelta(days=31)
    async with raw_database(empty_database_url) as other, other.write() as connection:
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_RETENTION_LOCK_KEY})
        assert await empty_store.retention.delete_batch(later - DAYS_30, later, limit=10) is None
        assert await apply_retention(empty_store, later, DAYS_30) is None
    after = await empty_store.retention.delete_batch(later - DAYS_30, later, limit=10)
    assert after is not None and after.activity == 1


# ---- reading only the recent part of a thread ----------------------------------------------------------------------


def _turn(number: int) -> list[dict]:
    return [
        {"role": "user", "content": [{"type": "text", "text": f"question {number} " + "x" * 200}]},
        {"role": "assistant", "content": [{"type": "text", "text": f"answer {number} " + "y" * 800}]},
    ]


def _chars(messages: list[dict]) -> int:
    return sum(len(json.dumps(m, ensure_ascii=False, separators=(",", ":"))) for m in messages)


async def test_a_turn_reads_the_same_few_rows_however_long_the_thread(store: Store, make_user):
    user = make_user()
    key = ConversationKey(user.team_id, "D1", "1.000010")
    budget = 8_000
    read: dict[int, tuple[int, int]] = {}
    for turns in range(10, 1001, 10):  # ten turns per append: the same rows, a faster test
        await store.conversations.append(key, [m for n in range(turns - 9, turns + 1) for m in _turn(n)])
        if turns in (10, 100, 1000):
            recent = await store.conversations.load(key, max_chars=budget)
            read[turns] = (len(recent), _chars(recent))
            assert recent[-1]["content"][0]["text"].startswith(f"answer {turns} ")
            assert recent[0]["role"] == "user"  # a whole exchange, from its start

    # Flat: the same rows, and the same bytes but for the turn numbers' digits.
    assert read[100][0] == read[1000][0]
    assert abs(read[100][1] - read[1000][1]) < 100
    rows, chars = read[1000]
    assert budget <= chars < budget + 2 * _chars(_turn(0))
    assert rows < 2 * 10  # ~1 KB per turn: about eight turns fill the budget
    assert len(await store.conversations.load(key)) == 2000  # without a budget: everything, for other readers


async def test_a_short_thread_is_read_whole(store: Store, make_user):
    user = make_user()
    key = ConversationKey(user.team_id, "D1", "1.000011")
    await store.conversations.append(key, _turn(1))
    assert await store.conversations.load(key, max_chars=10**6) == _turn(1)
