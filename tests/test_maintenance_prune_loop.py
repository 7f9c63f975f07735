"""The hourly pruning loop keeps going after a failed round: one database error must not stop housekeeping for good."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from bot.maintenance import prune_forever
from bot.store import Store


@pytest.mark.parametrize("error", [OperationalError("DELETE", {}, Exception("database is locked")), ConnectionError()])
async def test_a_failed_round_is_followed_by_the_next(
    store: Store, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    rounds: list[datetime] = []
    second_round = asyncio.Event()
    prune_claims = store.deliveries.prune

    async def failing_once(before: datetime) -> int:
        rounds.append(before)
        if len(rounds) == 1:
            raise error
        second_round.set()
        return await prune_claims(before)

    monkeypatch.setattr(store.deliveries, "prune", failing_once)
    loop = asyncio.create_task(prune_forever(store, every=timedelta(0)))
    try:
        async with asyncio.timeout(5):
            await second_round.wait()
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert len(rounds) >= 2
