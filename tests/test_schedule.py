"""The one scheduler of every process, on PostgreSQL as in production: due work runs once, whoever claims it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from bot.crm import CrmService
from bot.follows import Follows
from bot.identity import SlackUser
from bot.rollout.outcomes import PersonOverview
from bot.sandbox import RunningSandbox
from bot.schedule import Finished, Later, ReadBudget, Scheduler, TimeZones
from bot.store import Store
from bot.store.deliveries import Lease
from bot.store.schedule import ScheduledJob
from tests.sandboxes import make_rig
from tests.scheduling import Clock, Messenger


@dataclass
class Process:
    store: Store
    crm: CrmService
    follows: Follows
    scheduler: Scheduler


@pytest.fixture
async def two_processes(
    postgres_url: str, sandbox: RunningSandbox
) -> AsyncIterator[tuple[Process, Process, Clock, Messenger]]:
    """Two processes' worth of services on one PostgreSQL database: each its own pool, store and scheduler."""
    keys = [Fernet.generate_key().decode()]
    clock = Clock(datetime(2026, 12, 7, 7, 0, tzinfo=UTC))
    messenger = Messenger()
    processes = []
    async with AsyncExitStack() as stack:
        for _ in range(2):
            store = await Store.open(postgres_url, keys)
            stack.push_async_callback(store.close)
            await store.migrate()
            rig = make_rig(sandbox, store)
            stack.push_async_callback(rig.pool.close)
            crm = CrmService(rig.client, store, rig.tokens, sandbox.url)
            follows = Follows(store, crm, TimeZones(store, messenger), ReadBudget(store, 600), clock=clock)
            scheduler = Scheduler(store, lease_seconds=30, clock=clock)
            scheduler.handle("digest", follows.run)
            processes.append(Process(store, crm, follows, scheduler))
        yield processes[0], processes[1], clock, messenger


async def test_two_processes_send_each_digest_once(
    two_processes: tuple[Process, Process, Clock, Messenger], sandbox: RunningSandbox
) -> None:
    first, second, clock, messenger = two_processes
    team = f"T{uuid.uuid4().hex[:8].upper()}"
    users = [SlackUser(team, f"U{index}") for index in range(6)]
    for index, user in enumerate(users):
        process = (first, second)[index % 2]
        found = await process.crm.overview(user, "Ada Lovelace")
        assert isinstance(found, PersonOverview)
        await process.follows.follow(user, found)
        credential = sandbox.crm.accounts(user.default_subject)[0].id
        sandbox.crm.update_person(user.default_subject, credential, found.person.id, title=f"Title {index}")

    for moment in (datetime(2026, 12, 7, 8, 59, tzinfo=UTC), datetime(2026, 12, 7, 9, 0, tzinfo=UTC)):
        clock.now = moment
        await asyncio.gather(first.scheduler.round(), second.scheduler.round())
    clock.now = datetime(2026, 12, 7, 9, 5, tzinfo=UTC)
    await asyncio.gather(first.scheduler.round(), second.scheduler.round())

    assert sorted((who for who, _, _ in messenger.sent), key=str) == sorted(users, key=str)  # each user once


async def test_a_restarted_process_takes_over_work_a_dead_one_claimed(
    two_processes: tuple[Process, Process, Clock, Messenger],
) -> None:
    first, second, clock, _ = two_processes
    ran: list[tuple[str, str]] = []

    async def job(work: ScheduledJob, now: datetime) -> Finished:
        ran.append((work.payload["what"], work.kind))
        return Finished()

    for process in (first, second):
        process.scheduler.handle("test", job)
    user = SlackUser(f"T{uuid.uuid4().hex[:8].upper()}", "U1")
    await first.store.schedule.add(f"test:{user}", "test", user, clock.now, {"what": "wave"})
    dying = Lease("a process about to die", clock.now + timedelta(seconds=30))
    (claimed,) = await first.store.schedule.claim_due(dying, clock.now, 10)
    assert claimed.payload == {"what": "wave"}
    assert await second.scheduler.round() == 0  # its lease still runs: no one else touches it
    clock.now += timedelta(seconds=31)
    assert await second.scheduler.round() == 1
    assert ran == [("wave", "test")]
    clock.now += timedelta(minutes=5)
    assert await first.scheduler.round() == 0  # done: never again


async def test_a_failing_job_is_tried_again_later_then_given_up(
    two_processes: tuple[Process, Process, Clock, Messenger],
) -> None:
    first, _, clock, _ = two_processes
    tries: list[datetime] = []

    async def failing(work: ScheduledJob, now: datetime) -> Later:
        tries.append(now)
        raise RuntimeError("boom")

    first.scheduler.handle("failing", failing)
    user = SlackUser(f"T{uuid.uuid4().hex[:8].upper()}", "U1")
    await first.store.schedule.add(f"failing:{user}", "failing", user, clock.now)
    for _ in range(5):
        await first.scheduler.round()
        clock.now += timedelta(minutes=5)
    assert len(tries) == 3  # then given up
    assert tries[1] - tries[0] == timedelta(minutes=5)


async def test_the_read_budget_is_shared_by_processes(
    two_processes: tuple[Process, Process, Clock, Messenger],
) -> None:
    first, second, clock, _ = two_processes
    team = f"T{uuid.uuid4().hex[:8].upper()}"
    minute = clock.now.replace(second=0, microsecond=0)
    granted = await asyncio.gather(
        *(store.read_budget.take(team, minute, 4, 10) for store in (first.store, second.store, first.store))
    )
    assert sorted(granted) == [2, 4, 4]
    assert await second.store.read_budget.take(team, minute + timedelta(minutes=1), 4, 10) == 4
    assert await first.store.read_budget.take("TOTHER" + team, minute, 10, 10) == 10  # per workspace


async def test_a_users_time_zone_is_asked_of_slack_again_after_a_week(store: Store) -> None:
    user = SlackUser("T1", "U1")
    slack = Messenger(zones={user: "America/Los_Angeles"})
    zones = TimeZones(store, slack)
    start = datetime(2026, 12, 7, tzinfo=UTC)
    assert str(await zones.of(user, start)) == "America/Los_Angeles"
    slack.zones[user] = "Asia/Tokyo"  # they moved
    assert str(await zones.of(user, start + timedelta(days=6))) == "America/Los_Angeles"
    assert str(await zones.of(user, start + timedelta(days=7))) == "Asia/Tokyo"
    assert len(slack.asked) == 2
    slack.zones[user] = None  # Slack can't say: the last known zone stays
    assert str(await zones.of(user, start + timedelta(days=14))) == "Asia/Tokyo"
