"""One verdict per person and answer, the one from their latest click, whatever order clicks are handled in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.identity import SlackUser
from bot.store import Store

CHANNEL, TS = "C1", "1700000000.000100"
T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def at(micros: int) -> datetime:
    return T0 + timedelta(microseconds=micros)


async def test_the_first_verdict_then_changes_then_repeats(store: Store, make_user) -> None:
    user = make_user()

    assert await store.feedback.record(user, CHANNEL, TS, "helpful", at(1)) == "first"
    assert await store.feedback.record(user, CHANNEL, TS, "not_helpful", at(2)) == "changed"
    assert await store.feedback.record(user, CHANNEL, TS, "not_helpful", at(3)) == "unchanged"
    assert await store.feedback.record(user, CHANNEL, TS, "helpful", at(4)) == "changed"

    assert await store.feedback.verdict(user, CHANNEL, TS) == "helpful"


async def test_an_older_click_handled_late_changes_nothing(store: Store, make_user) -> None:
    user = make_user()
    await store.feedback.record(user, CHANNEL, TS, "helpful", at(1))
    await store.feedback.record(user, CHANNEL, TS, "helpful", at(5))  # the same verdict, clicked last

    assert await store.feedback.record(user, CHANNEL, TS, "not_helpful", at(3)) == "unchanged"
    assert await store.feedback.verdict(user, CHANNEL, TS) == "helpful"


async def test_verdicts_are_per_person_and_answer(store: Store, make_user) -> None:
    user = make_user()
    teammate, stranger = SlackUser(user.team_id, user.user_id + "B"), SlackUser(user.team_id + "X", user.user_id)
    await store.feedback.record(user, CHANNEL, TS, "helpful", at(1))

    assert await store.feedback.record(teammate, CHANNEL, TS, "not_helpful", at(2)) == "first"
    assert await store.feedback.record(user, CHANNEL, TS + "1", "not_helpful", at(2)) == "first"
    assert await store.feedback.verdict(user, CHANNEL, TS) == "helpful"
    assert await store.feedback.verdict(stranger, CHANNEL, TS) is None


async def test_concurrent_clicks_in_two_processes_count_one_first_and_keep_the_latest(
    store: Store, database_url, encryption_keys, open_store, make_user
) -> None:
    user = make_user()
    clicks = [("helpful" if n % 2 else "not_helpful", at(n)) for n in range(1, 21)]  # the last: not_helpful
    async with open_store(database_url, encryption_keys) as other:
        changes = await asyncio.gather(
            *((store, other)[n % 2].feedback.record(user, CHANNEL, TS, v, t) for n, (v, t) in enumerate(clicks))
        )

    assert changes.count("first") == 1
    assert await store.feedback.verdict(user, CHANNEL, TS) == "not_helpful"


async def test_forgetting_a_team_forgets_its_verdicts(store: Store, make_user) -> None:
    user = make_user()
    await store.feedback.record(user, CHANNEL, TS, "helpful", at(1))

    await store.teams.forget(user.team_id)

    assert await store.feedback.verdict(user, CHANNEL, TS) is None
