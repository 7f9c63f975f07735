from __future__ import annotations

from datetime import UTC

import pytest

from bot.identity import SlackUser
from bot.store import Store


async def test_recent_returns_the_newest_first_up_to_the_limit(store: Store, make_user):
    user = make_user()
    for number in range(7):
        await store.activity.record(user, f"action {number}")

    recent = await store.activity.recent(user)
    everything = await store.activity.recent(user, limit=10)

    assert [entry.text for entry in recent] == [f"action {number}" for number in (6, 5, 4, 3, 2)]
    assert [entry.text for entry in everything] == [f"action {number}" for number in range(6, -1, -1)]
    assert all(entry.created_at.tzinfo == UTC for entry in everything)
    assert [entry.created_at for entry in everything] == sorted((e.created_at for e in everything), reverse=True)


async def test_activity_is_per_user_and_team(store: Store, make_user):
    user = make_user()
    await store.activity.record(user, "mine")

    assert await store.activity.recent(make_user()) == []
    assert await store.activity.recent(SlackUser(f"{user.team_id}X", user.user_id)) == []
    assert [entry.text for entry in await store.activity.recent(user)] == ["mine"]


async def test_limit_zero_is_empty_and_negative_is_refused(store: Store, make_user):
    user = make_user()
    await store.activity.record(user, "mine")

    assert await store.activity.recent(user, limit=0) == []
    with pytest.raises(ValueError):
        await store.activity.recent(user, limit=-1)
