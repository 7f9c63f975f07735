"""Housekeeping forgets old delivery claims and expired parked requests, and nothing newer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.identity import SlackUser
from bot.maintenance import prune_once
from bot.store import Store


async def test_a_pruning_round_forgets_expired_parked_requests_and_old_claims_only(store: Store) -> None:
    user = SlackUser("T1", "U1")
    now = datetime.now(UTC)
    assert await store.deliveries.claim("event:recent")
    parked_id = await store.parked.park(user, {"op": "overview"}, timedelta(hours=1))
    await store.parked.park(user, {"op": "old"}, timedelta(seconds=1))

    pruned = await prune_once(store, now + timedelta(minutes=10))
    assert (pruned.claims, pruned.parked) == (0, 1)  # the claim is minutes old; only the 1-second request expired
    assert await store.parked.take(parked_id, user, now) == {"op": "overview"}

    pruned = await prune_once(store, now + timedelta(days=2))
    assert pruned.claims == 1
    assert await store.deliveries.claim("event:recent")  # forgotten, so claimable again


async def test_retention_forgets_the_crm_data_kept_for_digests_and_reminders(store: Store) -> None:
    from bot.store.deliveries import Lease
    from bot.store.follows import FollowKey

    user = SlackUser("T1", "U1")
    now = datetime.now(UTC)
    await store.follows.follow(user, FollowKey("", "per_ada"), {"name": "Ada"}, limit=5)
    await store.follows.read(user, FollowKey("", "per_ada"), {"title": "CEO"}, now)
    await store.schedule.add("reminder:1", "reminder", user, now, {"title": "Call Ada"})
    (sent,) = await store.schedule.claim_due(Lease("me", now + timedelta(seconds=30)), now, 5)
    await store.schedule.finish(sent.key, keep_payload=True)

    await prune_once(store, now + timedelta(days=29), retention=timedelta(days=30))
    assert (await store.follows.of(user))[0].latest == {"title": "CEO"}
    assert await store.schedule.get(sent.key, user) is not None

    await prune_once(store, now + timedelta(days=31), retention=timedelta(days=30))
    assert (await store.follows.of(user))[0].latest is None
    assert await store.schedule.get(sent.key, user) is None
