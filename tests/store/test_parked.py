from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from bot.identity import SlackUser
from bot.store import Store
from bot.store.schema import utc_now

PAYLOAD = {"kind": "overview", "query": "ada@example.com", "response_url": None}


async def test_the_owner_takes_a_parked_request_once(store: Store, make_user):
    owner = make_user()
    request_id = await store.parked.park(owner, PAYLOAD, timedelta(minutes=5))

    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert await store.parked.take(request_id, owner, utc_now()) == PAYLOAD
    assert await store.parked.take(request_id, owner, utc_now()) is None


async def test_nobody_else_can_take_it(store: Store, make_user):
    owner = make_user()
    request_id = await store.parked.park(owner, PAYLOAD, timedelta(minutes=5))

    for stranger in (make_user(), SlackUser(f"{owner.team_id}X", owner.user_id), SlackUser(owner.team_id, "U0")):
        assert await store.parked.take(request_id, stranger, utc_now()) is None
    assert await store.parked.take(request_id, owner, utc_now()) == PAYLOAD


async def test_concurrent_takes_hand_it_out_once(store: Store, make_user):
    owner = make_user()
    request_id = await store.parked.park(owner, PAYLOAD, timedelta(minutes=5))

    taken = await asyncio.gather(*(store.parked.take(request_id, owner, utc_now()) for _ in range(10)))

    assert taken.count(PAYLOAD) == 1
    assert taken.count(None) == 9


async def test_an_expired_request_is_gone(store: Store, make_user):
    owner = make_user()
    request_id = await store.parked.park(owner, PAYLOAD, timedelta(minutes=5))

    assert await store.parked.take(request_id, owner, utc_now() + timedelta(minutes=6)) is None
    assert await store.parked.take(request_id, owner, utc_now()) is None


async def test_prune_removes_only_expired_requests(store: Store, make_user):
    owner = make_user()
    short = await store.parked.park(owner, PAYLOAD, timedelta(seconds=30))
    long = await store.parked.park(owner, PAYLOAD, timedelta(hours=1))

    assert await store.parked.prune(utc_now() + timedelta(minutes=1)) >= 1

    assert await store.parked.take(short, owner, utc_now()) is None
    assert await store.parked.take(long, owner, utc_now()) == PAYLOAD


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1)])
async def test_a_time_to_live_must_be_positive(store: Store, make_user, ttl):
    with pytest.raises(ValueError, match="positive"):
        await store.parked.park(make_user(), PAYLOAD, ttl)
