from __future__ import annotations

import asyncio
from datetime import date, timedelta

from bot.identity import SlackUser
from bot.store import Store, UsageToday

DAY = date(2026, 12, 2)


async def test_usage_adds_up_per_user_and_team_and_day(store: Store, make_user):
    user = make_user()
    teammate = SlackUser(user.team_id, user.user_id + "B")
    stranger = SlackUser(user.team_id + "X", user.user_id)

    await store.usage.add(user, DAY, 100)
    await store.usage.add(user, DAY, 20)
    await store.usage.add(teammate, DAY, 5)
    await store.usage.add(stranger, DAY, 1000)
    await store.usage.add(user, DAY + timedelta(days=1), 7)
    await store.usage.add(user, DAY, 0)

    assert await store.usage.used(user, DAY) == UsageToday(user=120, team=125)
    assert await store.usage.used(teammate, DAY) == UsageToday(user=5, team=125)
    assert await store.usage.used(user, DAY + timedelta(days=1)) == UsageToday(user=7, team=7)
    assert await store.usage.used(SlackUser(user.team_id + "Y", user.user_id), DAY) == UsageToday(user=0, team=0)


async def test_concurrent_adds_from_two_processes_all_count(
    store: Store, database_url, encryption_keys, open_store, make_user
):
    user = make_user()
    async with open_store(database_url, encryption_keys) as other:
        await asyncio.gather(*(s.usage.add(user, DAY, 3) for s in [store, other] * 10))
    assert (await store.usage.used(user, DAY)).user == 60


async def test_prune_forgets_earlier_days(store: Store, make_user):
    user = make_user()
    await store.usage.add(user, date(2000, 1, 1), 9)
    await store.usage.add(user, date(2000, 1, 2), 9)
    assert await store.usage.prune(date(2000, 1, 2)) >= 1
    assert (await store.usage.used(user, date(2000, 1, 1))).user == 0
    assert (await store.usage.used(user, date(2000, 1, 2))).user == 9
