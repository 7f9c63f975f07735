"""Task reminders for tasks created through the bot, against the sandbox CRM, with a clock the tests move by hand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.commands import PersonRef
from bot.crm import CrmService, person_ref
from bot.identity import SlackUser
from bot.reminders import Reminders
from bot.rollout.outcomes import Created, PersonOverview, ReminderDismissed, ReminderGone, ReminderSnoozed
from bot.sandbox import RunningSandbox
from bot.schedule import ReadBudget, Scheduler, TimeZones
from bot.store import Store
from tests.sandboxes import Rig, make_rig
from tests.scheduling import Clock, Messenger


@dataclass
class World:
    rig: Rig
    crm: CrmService
    reminders: Reminders
    scheduler: Scheduler
    messenger: Messenger
    clock: Clock
    store: Store

    async def run_at(self, moment: datetime) -> int:
        self.clock.now = moment
        return await self.scheduler.round()

    def buttons(self, index: int = -1) -> dict[str, str]:
        """The reminder DM's buttons: action id → value."""
        _, _, blocks = self.sent[index]
        return {
            element["action_id"]: element.get("value", "")
            for block in blocks
            if block["type"] == "actions"
            for element in block["elements"]
        }

    @property
    def sent(self) -> list[tuple[SlackUser, str, list[dict[str, Any]]]]:
        return self.messenger.sent


@pytest.fixture
async def world(sandbox: RunningSandbox, store: Store) -> AsyncIterator[World]:
    rig = make_rig(sandbox, store)
    clock = Clock(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))  # Monday
    messenger = Messenger()
    crm = CrmService(rig.client, store, rig.tokens, sandbox.url)
    time_zones = TimeZones(store, messenger)
    reminders = Reminders(store, crm, time_zones, ReadBudget(store, 60), clock=clock)
    crm.on_task_created(reminders.task_created)
    scheduler = Scheduler(store, lease_seconds=30, clock=clock)
    scheduler.handle("reminder", reminders.run)
    yield World(rig, crm, reminders, scheduler, messenger, clock, store)
    await rig.pool.close()


def someone() -> SlackUser:
    return SlackUser("T1", f"U{uuid.uuid4().hex[:10].upper()}")


async def ada(world: World, user: SlackUser) -> PersonRef:
    found = await world.crm.overview(user, "Ada Lovelace")
    assert isinstance(found, PersonOverview)
    return person_ref(found, None)


async def task_due(world: World, user: SlackUser, due: str, title: str = "Send the proposal") -> Created:
    created = await world.crm.create_task(user, await ada(world, user), title, due_date=due)
    assert isinstance(created, Created)
    return created


async def test_a_task_due_tomorrow_reminds_its_creator_at_nine_their_time(world: World) -> None:
    user = someone()
    world.messenger.zones[user] = "America/Los_Angeles"
    await task_due(world, user, "2026-12-08")
    nine_in_los_angeles = datetime(2026, 12, 8, 17, 0, tzinfo=UTC)
    await world.run_at(nine_in_los_angeles - timedelta(seconds=1))
    assert world.sent == []
    await world.run_at(nine_in_los_angeles)
    (reminder,) = world.sent
    assert reminder[0] == user and "Send the proposal" in reminder[1]
    assert set(world.buttons()) == {"person.pick", "reminder.snooze", "reminder.done"}
    await world.run_at(nine_in_los_angeles + timedelta(hours=1))
    assert len(world.sent) == 1


async def test_a_task_closed_in_the_crm_meanwhile_is_not_reminded(world: World) -> None:
    user = someone()
    created = await task_due(world, user, "2026-12-08")
    credential = world.rig.sandbox.crm.accounts(user.default_subject)[0].id
    world.rig.sandbox.crm.complete_task(user.default_subject, credential, created.id)
    await world.run_at(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    assert world.sent == []


async def test_snooze_reminds_again_a_day_later_once_however_often_clicked(world: World) -> None:
    user = someone()
    await task_due(world, user, "2026-12-08")
    await world.run_at(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    key = world.buttons()["reminder.snooze"]
    world.clock.now = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
    snoozed = await world.reminders.snooze(user, key)
    again = await world.reminders.snooze(user, key)
    assert isinstance(snoozed, ReminderSnoozed) and snoozed.until == datetime(2026, 12, 9, 9, 30, tzinfo=UTC)
    assert again == snoozed
    assert len(await world.store.schedule.pending(user, "reminder")) == 1

    await world.run_at(datetime(2026, 12, 9, 9, 29, tzinfo=UTC))
    assert len(world.sent) == 1
    await world.run_at(datetime(2026, 12, 9, 9, 30, tzinfo=UTC))
    assert len(world.sent) == 2 and "Send the proposal" in world.sent[1][1]


async def test_done_dismisses_and_says_rollout_cannot_close_tasks(world: World) -> None:
    from bot.blocks.follows import reminder_dismissed_message

    user = someone()
    await task_due(world, user, "2026-12-08")
    await world.run_at(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    dismissed = await world.reminders.dismiss(user, world.buttons()["reminder.done"])
    assert isinstance(dismissed, ReminderDismissed) and dismissed.task.title == "Send the proposal"
    said = reminder_dismissed_message(dismissed).blocks[0].to_dict()["text"]["text"]
    assert "Rollout can't close tasks" in said


async def test_someone_elses_reminder_buttons_do_nothing(world: World) -> None:
    user, stranger = someone(), someone()
    await task_due(world, user, "2026-12-08")
    await world.run_at(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    key = world.buttons()["reminder.snooze"]
    assert await world.reminders.snooze(stranger, key) == ReminderGone()
    assert await world.reminders.dismiss(stranger, key) == ReminderGone()
    assert await world.store.schedule.pending(user, "reminder") == []


async def test_a_task_without_a_due_date_or_already_due_reminds_of_nothing(world: World) -> None:
    user = someone()
    created = await world.crm.create_task(user, await ada(world, user), "Someday")
    assert isinstance(created, Created)
    await task_due(world, user, "2026-12-07")  # today, created at 10:00: 9:00 has passed
    assert await world.store.schedule.pending(user, "reminder") == []


async def test_a_due_time_with_a_zone_reminds_at_that_instant(world: World) -> None:
    user = someone()
    person = await ada(world, user)
    assert await world.reminders.task_created(user, person, "task_1", "Call", "2026-12-07T15:30:00+01:00")
    (planned,) = await world.store.schedule.pending(user, "reminder")
    assert planned.due_at == datetime(2026, 12, 7, 14, 30, tzinfo=UTC)


async def test_disconnect_forgets_reminders_and_follows(world: World) -> None:
    user = someone()
    await task_due(world, user, "2026-12-08")
    forgotten = await world.crm.disconnect(user)
    assert forgotten.reminders == 1
    await world.run_at(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    assert world.sent == []


async def test_a_task_the_agent_created_is_reminded_like_any_other(world: World) -> None:
    user = someone()
    person = await ada(world, user)
    tools = await world.crm.tools(user)
    assert isinstance(tools, list)
    create_task = next(tool for tool in tools if tool.name in world.crm.write_tools(tools) and "task" in tool.name)
    arguments = {"personId": person.id, "title": "Agent's task", "dueDate": "2026-12-08"}
    await world.crm.call_tool(user, create_task, arguments, is_write=True)
    (planned,) = await world.store.schedule.pending(user, "reminder")
    assert planned.payload["title"] == "Agent's task" and planned.payload["task_id"]


async def test_done_after_snooze_cancels_the_snoozed_reminder(world: World) -> None:
    user = someone()
    await task_due(world, user, "2026-12-08")
    await world.run_at(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    buttons = world.buttons()
    await world.reminders.snooze(user, buttons["reminder.snooze"])
    await world.reminders.dismiss(user, buttons["reminder.done"])
    assert await world.store.schedule.pending(user, "reminder") == []
    await world.run_at(datetime(2026, 12, 9, 10, 0, tzinfo=UTC))
    assert len(world.sent) == 1


async def test_snoozing_again_after_the_snoozed_reminder_came_snoozes_again(world: World) -> None:
    user = someone()
    await task_due(world, user, "2026-12-08")
    await world.run_at(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    first = world.buttons()["reminder.snooze"]
    await world.reminders.snooze(user, first)
    await world.run_at(datetime(2026, 12, 9, 9, 0, tzinfo=UTC))
    assert len(world.sent) == 2
    # The first message's Snooze, clicked again a day later: a new day of snooze, not yesterday's.
    again = await world.reminders.snooze(user, first)
    assert isinstance(again, ReminderSnoozed) and again.until == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    await world.run_at(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    assert len(world.sent) == 3
