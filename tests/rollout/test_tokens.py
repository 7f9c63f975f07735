"""TokenService keeps each user's current token in memory: no database read per Rollout request, yet the database
stays the source of truth once the kept token is near expiry or Rollout refuses it (other processes renew there)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.identity import SlackUser
from bot.rollout.tokens import TokenMinter, TokenService

ALICE = SlackUser("T1", "UALICE")
BOB = SlackUser("T1", "UBOB")
CAROL = SlackUser("T1", "UCAROL")
SECRET = "token-cache-test-secret-" + "0123456789abcdef" * 4
TTL = timedelta(minutes=15)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class _Record:
    subject: str


@dataclass(frozen=True)
class _Stored:
    token: str
    expires_at: datetime


class CountingStore:
    """The database as TokenService sees it, counting reads; shared by several services = several processes."""

    def __init__(self) -> None:
        self.tokens: dict[SlackUser, _Stored] = {}
        self.reads = 0
        self.writes = 0

    async def get_or_create(self, user: SlackUser) -> _Record:
        return _Record(user.default_subject)

    async def load_token(self, user: SlackUser) -> _Stored | None:
        self.reads += 1
        return self.tokens.get(user)

    async def save_token(self, user: SlackUser, token: str, expires_at: datetime) -> None:
        self.writes += 1
        self.tokens[user] = _Stored(token, expires_at)


def service(store: CountingStore, clock: Clock, **options: int) -> TokenService:
    return TokenService(TokenMinter("client", SECRET, TTL, clock=clock), store, clock=clock, **options)


async def test_a_kept_token_is_handed_out_without_reading_the_database() -> None:
    store, clock = CountingStore(), Clock()
    tokens = service(store, clock)
    first = await tokens.current(ALICE)
    reads = store.reads

    clock.now += timedelta(minutes=5)
    again = [await tokens.current(ALICE) for _ in range(3)]

    assert [issued.token for issued in again] == [first.token] * 3
    assert store.reads == reads


async def test_a_token_rollout_refused_is_dropped_and_the_database_consulted() -> None:
    store, clock = CountingStore(), Clock()
    ours, other_process = service(store, clock), service(store, clock)
    refused = await ours.current(ALICE)
    clock.now += timedelta(seconds=1)  # a different iat, so a different token
    renewed_elsewhere = await other_process.renew(ALICE, rejected=refused.token)
    reads = store.reads

    # Our process sends `refused`, gets 401 and renews: it adopts the other process's token instead of minting.
    adopted = await ours.renew(ALICE, rejected=refused.token)

    assert adopted.token == renewed_elsewhere.token != refused.token
    assert store.reads == reads + 1
    assert (await ours.current(ALICE)).token == renewed_elsewhere.token
    assert store.reads == reads + 1  # and keeps it from then on


async def test_a_renewal_replaces_the_kept_token() -> None:
    store, clock = CountingStore(), Clock()
    tokens = service(store, clock)
    refused = await tokens.current(ALICE)
    clock.now += timedelta(seconds=1)

    renewed = await tokens.renew(ALICE, rejected=refused.token)

    assert renewed.token != refused.token
    assert (await tokens.current(ALICE)).token == renewed.token


async def test_near_expiry_the_database_decides_again() -> None:
    store, clock = CountingStore(), Clock()
    ours, other_process = service(store, clock), service(store, clock)
    kept = await ours.current(ALICE)
    clock.now += timedelta(minutes=10)  # 5 of 15 minutes left: more than the last fifth
    newer = await other_process.fresh(ALICE)
    assert (await ours.current(ALICE)).token == kept.token  # still ours, from memory
    reads = store.reads

    clock.now += timedelta(minutes=2, seconds=30)  # 2.5 minutes left: inside the last fifth
    current = await ours.current(ALICE)

    assert store.reads == reads + 1
    assert current.token == newer.token  # the database's newer token, not a needless new one
    assert store.writes == 2


async def test_a_fresh_token_becomes_the_kept_one() -> None:
    store, clock = CountingStore(), Clock()
    tokens = service(store, clock)
    await tokens.current(ALICE)
    clock.now += timedelta(seconds=1)

    fresh = await tokens.fresh(ALICE)
    reads = store.reads

    assert (await tokens.current(ALICE)).token == fresh.token
    assert store.reads == reads


async def test_the_memory_is_bounded_and_forgets_the_least_recently_used() -> None:
    store, clock = CountingStore(), Clock()
    tokens = service(store, clock, cache_size=2)
    for user in (ALICE, BOB, ALICE, CAROL):  # CAROL pushes out BOB, the least recently used
        await tokens.current(user)
    reads = store.reads

    await tokens.current(ALICE)
    await tokens.current(CAROL)
    assert store.reads == reads
    await tokens.current(BOB)
    assert store.reads == reads + 1


async def test_a_forgotten_token_is_read_from_the_database_again() -> None:
    store, clock = CountingStore(), Clock()
    tokens = service(store, clock)
    await tokens.current(ALICE)
    planted = _Stored("written-by-someone-else", clock.now + TTL)
    store.tokens[ALICE] = planted

    tokens.forget(ALICE)

    assert (await tokens.current(ALICE)).token == planted.token
