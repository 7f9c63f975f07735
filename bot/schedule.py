"""One scheduler for every process: work due at a time (morning digests, task reminders) runs exactly once.

Each piece of work is a row with a due time (bot/store/schedule.py). A process claims due rows under its lease, as
acked work is claimed (bot/work.py): each row by one process only, renewed while it runs, and taken over by any
process once the lease runs out — so a crash or a restart delays the work rather than losing or repeating it. Work
that has started sending a DM says so first; a takeover never sends it again.

Scheduled reads of Rollout share one budget per workspace and minute (DIGEST_OVERVIEWS_PER_MINUTE), across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.models.blocks import Block

from bot import metrics
from bot.identity import SlackUser
from bot.store import Store
from bot.store.deliveries import Lease
from bot.store.schedule import ScheduledJob

log = logging.getLogger(__name__)

CLAIM_BATCH = 20
POLL_SECONDS = 20.0  # how soon work comes due is noticed; due times are minutes apart
RETRY_AFTER = timedelta(minutes=5)
MAX_FAILURES = 3  # a job that fails this often is given up, so a poisonous one cannot run forever
MAX_CLAIMS = 200  # budget waits claim a job again and again; past this something is wrong
TIME_ZONE_REFRESH = timedelta(days=7)  # people travel and move: Slack's time zone is asked again weekly


@dataclass(frozen=True, slots=True)
class Later:
    """Run the job again at `at`, keeping `facts` (what it has done so far)."""

    at: datetime
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finished:
    keep_payload: bool = False  # a sent reminder keeps what its buttons need


JobResult = Later | Finished
JobRunner = Callable[[ScheduledJob, datetime], Awaitable[JobResult]]


class Messenger(Protocol):
    """How scheduled work reaches a person outside any request: Slack (handlers/slack/notifications.py) or the demo."""

    async def dm(self, user: SlackUser, blocks: Sequence[Block], text: str) -> bool:
        """Post into the user's DM with the bot; False when it could not be delivered."""

    async def time_zone(self, user: SlackUser) -> str | None:
        """The user's IANA time zone as their chat profile says, or None when it can't be asked."""


class Scheduler:
    def __init__(
        self,
        store: Store,
        *,
        lease_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.owner = uuid.uuid4().hex  # this process
        self._runners: dict[str, JobRunner] = {}

    def handle(self, kind: str, runner: JobRunner) -> None:
        self._runners[kind] = runner

    def lease(self) -> Lease:
        return Lease(self.owner, self.clock() + timedelta(seconds=self.lease_seconds))

    async def keep(self, *, stop: asyncio.Event, poll_seconds: float = POLL_SECONDS) -> None:
        """Renew this process's leases and run due work, until `stop` is set. A round that fails is only logged."""
        while not stop.is_set():
            try:
                await self.round()
            except Exception as error:  # a database outage must not end the loop
                log.warning("scheduled work round failed: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(poll_seconds, self.lease_seconds / 3))

    async def round(self) -> int:
        """Renew, then run every job due now (and any another process abandoned); how many ran."""
        schedule = self._store.schedule
        await schedule.renew(self.lease())
        ran = 0
        while jobs := await schedule.claim_due(self.lease(), self.clock(), CLAIM_BATCH):
            for job in jobs:
                await self._run(job)
                ran += 1
            if len(jobs) < CLAIM_BATCH:
                break
        return ran

    async def _run(self, job: ScheduledJob) -> None:
        schedule = self._store.schedule
        runner = self._runners.get(job.kind)
        if runner is None or job.attempts > MAX_CLAIMS:
            log.warning("scheduled %s work given up after %d claims", job.kind, job.attempts)
            await schedule.finish(job.key)
            return
        renewing = asyncio.create_task(self._renew_while_running())
        try:
            result = await runner(job, self.clock())
        except Exception as error:  # one job's trouble is not the next one's
            failures = int(job.facts.get("failures", 0)) + 1
            log.warning("scheduled %s work failed (%d): %s", job.kind, failures, type(error).__name__)
            if failures >= MAX_FAILURES:
                metrics.scheduled(job.kind, "failed")
                await schedule.finish(job.key)
            else:
                await schedule.later(job.key, self.clock() + RETRY_AFTER, {"failures": failures})
            return
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
        if isinstance(result, Later):
            await schedule.later(job.key, result.at, result.facts)
        else:
            await schedule.finish(job.key, keep_payload=result.keep_payload)

    async def _renew_while_running(self) -> None:
        # A digest waits on Rollout and Slack: its lease must outlive the slowest of them.
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            await self._store.schedule.renew(self.lease())


class TimeZones:
    """Each user's time zone, as Slack has it, asked again once a week; UTC when Slack can't say."""

    def __init__(self, store: Store, messenger: Messenger | None) -> None:
        self._store = store
        self.messenger = messenger

    async def of(self, user: SlackUser, now: datetime) -> ZoneInfo:
        settings = await self._store.digest_settings.get(user)
        name = settings.time_zone
        checked = settings.time_zone_checked_at
        if self.messenger is not None and (checked is None or now - checked >= TIME_ZONE_REFRESH):
            asked = await self.messenger.time_zone(user)
            if asked is not None or checked is None:
                name = asked
            await self._store.digest_settings.set_time_zone(user, name, now)
        return zone(name)


def zone(name: str | None) -> ZoneInfo:
    if name:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(name)
    return ZoneInfo("UTC")


class ReadBudget:
    """At most `per_minute` scheduled overviews per workspace and minute, shared by every process."""

    def __init__(self, store: Store, per_minute: int) -> None:
        self._store = store
        self.per_minute = per_minute

    async def take(self, team_id: str, now: datetime, wanted: int) -> int:
        minute = now.astimezone(UTC).replace(second=0, microsecond=0)
        return await self._store.read_budget.take(team_id, minute, wanted, self.per_minute)

    @staticmethod
    def next_minute(now: datetime) -> datetime:
        return now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
