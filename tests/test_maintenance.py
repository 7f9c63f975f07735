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
