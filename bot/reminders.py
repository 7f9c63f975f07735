"""Task reminders: a task created through the bot (a command, a form, the agent, a thread save) with a due date reminds
its creator by DM when it falls due — 9:00 in their time zone for a date without a time — unless the person's
overview no longer shows it open. The DM offers the person's card, "Snooze 1 day" and "Done" (which only dismisses
the reminder: Rollout has no tool to close a task).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bot import metrics
from bot.blocks.follows import reminder_message
from bot.commands import PersonRef
from bot.crm import CrmService
from bot.identity import SlackUser
from bot.rollout.outcomes import (
    FollowedPerson,
    NotFound,
    PersonOverview,
    Reminder,
    ReminderDismissed,
    ReminderGone,
    ReminderSnoozed,
    TaskLine,
)
from bot.schedule import Finished, JobResult, Later, ReadBudget, TimeZones
from bot.store import Store
from bot.store.schedule import ScheduledJob, key_digest

log = logging.getLogger(__name__)

REMINDER = "reminder"  # the scheduled work's kind
REMIND_AT = time(9, 0)  # for a due date without a time
SNOOZE = timedelta(days=1)
CHECK_RETRIES = 3  # Rollout can't be asked: try again this often, then remind anyway, saying it wasn't checked
CHECK_RETRY_AFTER = timedelta(minutes=5)
SNOOZED_FROM = "snoozed_from"  # in a snoozed reminder's payload: the reminder whose Snooze made it


class Reminders:
    def __init__(
        self,
        store: Store,
        crm: CrmService,
        time_zones: TimeZones,
        budget: ReadBudget,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._crm = crm
        self._time_zones = time_zones
        self._budget = budget
        self._clock = clock

    async def task_created(self, user: SlackUser, person: PersonRef, task_id: str, title: str, due: str) -> bool:
        """Schedule the reminder of a task just created; False when it has no due time ahead."""
        now = self._clock()
        due_at = await self._due_at(user, due, now)
        if due_at is None or due_at <= now:
            return False  # already due when created: its creator knows
        key = f"reminder:{user.team_id}:{user.user_id}:{person.credential_id or ''}:{task_id or title}:{due}"
        payload = {"person": asdict(person), "task_id": task_id, "title": title, "due": due}
        return await self._store.schedule.add(key, REMINDER, user, due_at, payload)

    async def run(self, job: ScheduledJob, now: datetime) -> JobResult:
        if job.facts.get("sending"):
            return Finished(keep_payload=True)  # taken over after the DM may have gone: never twice
        person, task_id, task = _reminded(job.payload)
        if person is None:
            return Finished()  # nothing left to remind of (forgotten)
        if not await self._budget.take(job.user.team_id, now, 1):
            metrics.scheduled(REMINDER, "waiting")
            return Later(ReadBudget.next_minute(now))
        found = await self._crm.person(job.user, person.id, credential_id=person.credential_id)
        checked = True
        if isinstance(found, PersonOverview):
            current = next(
                (t for t in found.person.tasks if (t.id == task_id if task_id else t.title == task.title)), None
            )
            if current is None or not current.is_open:
                metrics.scheduled(REMINDER, "closed")
                return Finished()  # closed (or deleted) in the CRM meanwhile: nothing to remind of
            person = PersonRef(person.id, found.person.name, found.person.email, person.credential_id, found.person.url)
        elif isinstance(found, NotFound):
            metrics.scheduled(REMINDER, "closed")
            return Finished()  # the person is gone, and their tasks with them
        else:
            tries = int(job.facts.get("unchecked", 0)) + 1
            if tries < CHECK_RETRIES:
                return Later(now + CHECK_RETRY_AFTER, {"unchecked": tries})
            checked = False
        messenger = self._time_zones.messenger
        if messenger is None:
            return Finished(keep_payload=True)
        await self._store.schedule.note(job.key, {"sending": True})
        reminder = Reminder(job.key, _followed(person), task, checked)
        message = reminder_message(reminder)
        if await messenger.dm(job.user, message.blocks, message.text):
            metrics.scheduled(REMINDER, "sent")
        else:
            log.warning("a task reminder for %s could not be delivered", job.user)
            metrics.scheduled(REMINDER, "undelivered")
        return Finished(keep_payload=True)

    async def snooze(self, user: SlackUser, key: str) -> ReminderSnoozed | ReminderGone:
        """Remind again in a day. Clicks within the same hour snooze once (a double click, a retried delivery); a click
        after the snoozed reminder came is a new snooze."""
        job = await self._store.schedule.get(key, user)
        person, _, task = _reminded(job.payload) if job is not None else (None, "", TaskLine(""))
        if job is None or person is None:
            return ReminderGone()
        until = self._clock() + SNOOZE
        snoozed_key = f"snoozed:{key}:{until:%Y-%m-%dT%H}"
        await self._store.schedule.add(snoozed_key, REMINDER, user, until, {**job.payload, SNOOZED_FROM: key})
        await self._store.schedule.dismiss(key, user)
        snoozed = await self._store.schedule.get(key_digest(snoozed_key), user)
        return ReminderSnoozed(task, snoozed.due_at if snoozed is not None else until)

    async def dismiss(self, user: SlackUser, key: str) -> ReminderDismissed | ReminderGone:
        job = await self._store.schedule.get(key, user)
        person, _, task = _reminded(job.payload) if job is not None else (None, "", TaskLine(""))
        if job is None or person is None:
            return ReminderGone()
        await self._store.schedule.dismiss(key, user)
        for later in await self._store.schedule.pending(user, REMINDER):  # Done after Snooze: the later one goes too
            if later.payload.get(SNOOZED_FROM) == key:
                await self._store.schedule.cancel_one(later.key, user)
        return ReminderDismissed(task, _followed(person))

    async def _due_at(self, user: SlackUser, due: str, now: datetime) -> datetime | None:
        """When a due date or time falls due: a date alone at 9:00 in the user's zone; a time without a zone in it."""
        text = due.strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                local = await self._time_zones.of(user, now)
                return datetime.combine(day, REMIND_AT, tzinfo=local).astimezone(UTC)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=await self._time_zones.of(user, now))
        return moment.astimezone(UTC)


def _reminded(payload: Mapping[str, Any]) -> tuple[PersonRef | None, str, TaskLine]:
    raw = payload.get("person")
    task = TaskLine(str(payload.get("title") or ""), payload.get("due") or None)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        return None, "", task
    known = {f.name for f in fields(PersonRef)}
    person = PersonRef(**{name: value for name, value in raw.items() if name in known})
    return person, str(payload.get("task_id") or ""), task


def _followed(person: PersonRef) -> FollowedPerson:
    return FollowedPerson(person.credential_id or "", person.id, person.name or "them", person.email, person.url)
