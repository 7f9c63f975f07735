"""Following people and the morning digest, against the sandbox CRM, with a clock the tests move by hand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.crm import CrmService
from bot.follows import Follows, next_digest_time
from bot.identity import SlackUser
from bot.metrics import REGISTRY
from bot.rollout.outcomes import (
    Digest,
    FieldChange,
    Followed,
    Following,
    FollowLimit,
    GonePerson,
    NotFollowing,
    PersonOverview,
    TaskLine,
    Unfollowed,
)
from bot.sandbox import RunningSandbox
from bot.schedule import ReadBudget, Scheduler, TimeZones, zone
from bot.store import Store
from bot.store.deliveries import Lease
from tests.sandboxes import Rig, make_rig
from tests.scheduling import Clock, Messenger

MONDAY_7AM_UTC = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


@dataclass
class World:
    rig: Rig
    crm: CrmService
    follows: Follows
    scheduler: Scheduler
    messenger: Messenger
    clock: Clock
    store: Store

    @property
    def sandbox(self) -> RunningSandbox:
        return self.rig.sandbox


def build(
    rig: Rig, store: Store, clock: Clock, messenger: Messenger, per_minute: int = 60
) -> tuple[Follows, Scheduler]:
    crm = CrmService(rig.client, store, rig.tokens, rig.sandbox.url)
    scheduler = Scheduler(store, lease_seconds=30, clock=clock)
    follows = Follows(store, crm, TimeZones(store, messenger), ReadBudget(store, per_minute), clock=clock)
    scheduler.handle("digest", follows.run)
    return follows, scheduler


@pytest.fixture
async def world(sandbox: RunningSandbox, store: Store) -> AsyncIterator[World]:
    rig = make_rig(sandbox, store)
    clock = Clock(MONDAY_7AM_UTC)
    messenger = Messenger()
    follows, scheduler = build(rig, store, clock, messenger)
    crm = CrmService(rig.client, store, rig.tokens, sandbox.url)
    yield World(rig, crm, follows, scheduler, messenger, clock, store)
    await rig.pool.close()


def someone(team: str = "T1") -> SlackUser:
    # A user no other test has seen: the sandbox seeds each Rollout subject its own CRM.
    return SlackUser(team, f"U{uuid.uuid4().hex[:10].upper()}")


async def follow(world: World, user: SlackUser, query: str = "Ada Lovelace") -> PersonOverview:
    found = await world.crm.overview(user, query)
    assert isinstance(found, PersonOverview)
    assert isinstance(await world.follows.follow(user, found), Followed)
    return found


async def follow_in_two_accounts(world: World, user: SlackUser) -> tuple[str, str]:
    """Ada followed in each of two CRM accounts (HubSpot, Salesforce): their ids."""
    world.sandbox.crm.set_accounts(user.default_subject, ["hubspot", "salesforce"])
    hubspot, salesforce = (a.id for a in world.sandbox.crm.accounts(user.default_subject))
    for credential in (hubspot, salesforce):
        found = await world.crm.overview(user, "Ada Lovelace", credential_id=credential)
        assert isinstance(found, PersonOverview)
        await world.follows.follow(user, found, credential)
    return hubspot, salesforce


def account(world: World, user: SlackUser) -> str:
    return world.sandbox.crm.accounts(user.default_subject)[0].id


def calls(world: World) -> int:
    return sum(world.sandbox.stats.tool_calls.values())


async def run_at(world: World, moment: datetime) -> int:
    world.clock.to(moment)
    return await world.scheduler.round()


# ---- following ------------------------------------------------------------------------------------------------------


async def test_following_lists_who_and_unfollowing_by_name_removes_them(world: World) -> None:
    user = someone()
    ada = await follow(world, user)
    await follow(world, user, "Grace")
    listed = await world.follows.following(user)
    assert [person.name for person in listed.people] == ["Ada Lovelace", "Grace Hopper"]
    assert listed.digest_on

    gone = await world.follows.unfollow_matching(user, "lovelace")
    assert isinstance(gone, Unfollowed) and gone.person.person_id == ada.person.id
    assert [person.name for person in (await world.follows.following(user)).people] == ["Grace Hopper"]
    assert await world.follows.unfollow_matching(user, "lovelace") == NotFollowing("lovelace")


async def test_following_again_says_so_and_keeps_one_follow(world: World) -> None:
    user = someone()
    found = await follow(world, user)
    again = await world.follows.follow(user, found)
    assert isinstance(again, Followed) and again.already
    assert len((await world.follows.following(user)).people) == 1


async def test_an_unfollow_matching_several_lists_them_to_pick_from(world: World) -> None:
    user = someone()
    await follow(world, user, "Ada Lovelace")
    await follow(world, user, "Ada Byron")
    several = await world.follows.unfollow_matching(user, "ada")
    assert isinstance(several, Following) and several.query == "ada" and len(several.people) == 2
    assert len((await world.follows.following(user)).people) == 2  # nothing unfollowed yet


async def test_following_stops_at_the_limit(world: World) -> None:
    user = someone()
    world.follows.limit = 1
    await follow(world, user, "Ada Lovelace")
    found = await world.crm.overview(user, "Grace")
    assert isinstance(found, PersonOverview)
    assert await world.follows.follow(user, found) == FollowLimit(1)


async def test_the_same_person_is_followed_apart_in_each_crm_account(world: World) -> None:
    user = someone()
    hubspot, salesforce = await follow_in_two_accounts(world, user)
    accounts = {person.account_id for person in (await world.follows.following(user)).people}
    assert accounts == {hubspot, salesforce}


# ---- what a digest says ---------------------------------------------------------------------------------------------


async def test_a_digest_says_exactly_what_changed_and_then_nothing(world: World) -> None:
    user = someone()
    ada = await follow(world, user)
    crm, subject, credential = world.sandbox.crm, user.default_subject, account(world, user)
    open_task = next(task for task in ada.person.tasks if task.is_open)
    crm.create_note(subject, credential, person_id=ada.person.id, content="Wants the enterprise plan")
    crm.complete_task(subject, credential, open_task.id)
    crm.update_person(subject, credential, ada.person.id, title="Chief Analyst")

    digest = await world.follows.digest_now(user)
    assert len(digest.news) == 1
    news = digest.news[0]
    assert news.person.name == "Ada Lovelace"
    assert news.notes == ("Wants the enterprise plan",)
    assert news.closed == (TaskLine(open_task.title, open_task.due_date),)
    assert news.opened == ()
    assert news.fields == (FieldChange("Title", ada.person.title, "Chief Analyst"),)
    assert digest.worth_sending

    again = await world.follows.digest_now(user)
    assert again.news == () and again.gone == ()
    assert again.following == 1


async def test_a_task_opened_and_company_stage_owner_changes_are_told(world: World) -> None:
    user = someone()
    ada = await follow(world, user)
    crm, subject, credential = world.sandbox.crm, user.default_subject, account(world, user)
    crm.create_task(subject, credential, person_id=ada.person.id, title="Send the contract", due_date="2026-12-20")
    crm.update_person(subject, credential, ada.person.id, company="Engines Ltd", owner="Grace", stage="Customer")
    (news,) = (await world.follows.digest_now(user)).news
    assert news.opened == (TaskLine("Send the contract", "2026-12-20"),)
    assert [change.label for change in news.fields] == ["Company", "Owner", "Stage"]
    assert news.fields[0].after == "Engines Ltd"


async def test_tasks_due_today_and_overdue_are_listed_after_the_changes(world: World) -> None:
    user = someone()
    ada = await follow(world, user)
    crm, subject, credential = world.sandbox.crm, user.default_subject, account(world, user)
    crm.create_task(subject, credential, person_id=ada.person.id, title="Call today", due_date="2026-12-07")
    digest = await world.follows.digest_now(user)
    due_today = [due for due in digest.due if not due.overdue]
    assert [due.task.title for due in due_today] == ["Call today"]
    overdue = [due.task.title for due in digest.due if due.overdue]
    assert overdue == [task.title for task in ada.person.tasks if task.is_open]  # the seed's, due in November


async def test_a_person_deleted_from_the_crm_is_reported_once_and_unfollowed(world: World) -> None:
    user = someone()
    ada = await follow(world, user)
    world.sandbox.crm.remove_person(user.default_subject, account(world, user), ada.person.id)
    digest = await world.follows.digest_now(user)
    assert [(gone.person.name, gone.reason) for gone in digest.gone] == [("Ada Lovelace", "not_found")]
    assert (await world.follows.following(user)).people == ()
    assert (await world.follows.digest_now(user)).gone == ()


async def test_a_disconnected_crm_account_unfollows_its_people_once(world: World) -> None:
    user = someone()
    hubspot, salesforce = await follow_in_two_accounts(world, user)
    world.sandbox.crm.disconnect(user.default_subject, salesforce)

    digest = await world.follows.digest_now(user)
    assert [(gone.person.account_id, gone.reason) for gone in digest.gone] == [(salesforce, "account")]
    assert [person.account_id for person in (await world.follows.following(user)).people] == [hubspot]
    assert (await world.follows.digest_now(user)).gone == ()


# ---- the morning digest, scheduled ---------------------------------------------------------------------------------


async def test_nothing_changed_sends_no_digest_and_plans_the_next(world: World) -> None:
    user = someone()
    await follow(world, user)
    await run_at(world, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    assert world.messenger.sent == []
    (planned,) = await world.store.schedule.pending(user, "digest")
    assert planned.payload["send_at"] == "2026-12-08T09:00:00+00:00"


def digests(outcome: str) -> float:
    return REGISTRY.get_sample_value("rollout_bot_scheduled_work_total", {"kind": "digest", "outcome": outcome}) or 0.0


async def test_the_digest_comes_at_nine_and_says_what_changed(world: World) -> None:
    user = someone()
    ada = await follow(world, user)
    world.sandbox.crm.update_person(user.default_subject, account(world, user), ada.person.id, title="CEO")
    sent_before = digests("sent")
    await run_at(world, datetime(2026, 12, 7, 8, 59, 59, tzinfo=UTC))
    assert world.messenger.sent == []
    await run_at(world, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    (dm,) = world.messenger.to(user)
    assert "Ada Lovelace" in dm and "CEO" in dm and "Title" in dm
    assert digests("sent") == sent_before + 1  # counted for the operator
    await run_at(world, datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    assert len(world.messenger.sent) == 1  # once


async def test_each_user_gets_theirs_at_nine_in_their_own_time_zone(world: World) -> None:
    world.clock.to(datetime(2026, 12, 7, 7, 0, tzinfo=UTC))  # Monday: 23:00 Sunday in LA, 16:00 Monday in Tokyo
    los_angeles, tokyo = someone(), someone()
    world.messenger.zones.update({los_angeles: "America/Los_Angeles", tokyo: "Asia/Tokyo"})
    for user in (los_angeles, tokyo):
        ada = await follow(world, user)
        world.sandbox.crm.update_person(user.default_subject, account(world, user), ada.person.id, stage="Customer")

    tokyo_nine = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)  # Tuesday 9:00 in Tokyo (Monday 9:00 there had passed)
    la_nine = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)  # Monday 9:00 in Los Angeles (UTC-8)
    await run_at(world, la_nine - timedelta(seconds=1))
    assert world.messenger.sent == []
    await run_at(world, la_nine)
    assert len(world.messenger.to(los_angeles)) == 1 and world.messenger.to(tokyo) == []
    await run_at(world, tokyo_nine - timedelta(seconds=1))
    assert world.messenger.to(tokyo) == []
    await run_at(world, tokyo_nine)
    assert len(world.messenger.to(tokyo)) == 1 and len(world.messenger.to(los_angeles)) == 1


def test_the_next_digest_is_on_the_next_working_day() -> None:
    friday_ten = datetime(2026, 12, 11, 10, 0, tzinfo=UTC)
    assert next_digest_time(friday_ten, zone("UTC")) == datetime(2026, 12, 14, 9, 0, tzinfo=UTC)  # Monday
    berlin_saturday = datetime(2026, 12, 12, 7, 0, tzinfo=UTC)
    assert next_digest_time(berlin_saturday, zone("Europe/Berlin")) == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)


async def test_the_digest_reads_in_the_hour_before_nine_not_at_nine(world: World) -> None:
    user = someone()
    await follow(world, user)
    (planned,) = await world.store.schedule.pending(user, "digest")
    assert datetime(2026, 12, 7, 8, 0, tzinfo=UTC) <= planned.due_at < datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_a_digest_slack_refused_keeps_its_changes_for_the_next(world: World) -> None:
    user = someone()
    ada = await follow(world, user)
    world.sandbox.crm.update_person(user.default_subject, account(world, user), ada.person.id, title="CTO")
    world.messenger.refuse = True
    await run_at(world, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    world.messenger.refuse = False
    await run_at(world, datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    (dm,) = world.messenger.to(user)
    assert "CTO" in dm


async def test_digest_off_sends_nothing_and_on_plans_again(world: World) -> None:
    user = someone()
    ada = await follow(world, user)
    world.sandbox.crm.update_person(user.default_subject, account(world, user), ada.person.id, title="CTO")
    switched = await world.follows.switch_digest(user, False)
    assert not switched.on and switched.following == 1
    assert await world.store.schedule.pending(user, "digest") == []
    await run_at(world, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    assert world.messenger.sent == []
    assert not (await world.follows.following(user)).digest_on

    await world.follows.switch_digest(user, True)
    await run_at(world, datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    assert len(world.messenger.to(user)) == 1


async def test_a_takeover_after_the_digest_started_sending_does_not_send_it_again(world: World) -> None:
    user = someone()
    ada = await follow(world, user)
    world.sandbox.crm.update_person(user.default_subject, account(world, user), ada.person.id, title="CTO")
    (planned,) = await world.store.schedule.pending(user, "digest")
    # A process claimed it, noted it was sending, and died before marking it done.
    world.clock.to(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    dead_process = Lease("a process that died", world.clock() + timedelta(seconds=30))
    (claimed,) = await world.store.schedule.claim_due(dead_process, world.clock(), 10)
    await world.store.schedule.note(claimed.key, {"sending": True, "read": True})
    await run_at(world, world.clock() + timedelta(seconds=31))  # the lease ran out
    assert world.messenger.sent == []
    (after,) = await world.store.schedule.pending(user, "digest")
    assert after.key != planned.key  # the next one


async def test_reads_stay_within_the_workspace_budget_spread_over_minutes(world: World, store: Store) -> None:
    follows, scheduler = build(world.rig, store, world.clock, world.messenger, per_minute=2)
    user, colleague = someone("TBUDGET"), someone("TBUDGET")
    for who in (user, colleague):
        for query in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
            found = await world.crm.overview(who, query)
            assert isinstance(found, PersonOverview)
            await follows.follow(who, found)
    calls_before = calls(world)

    world.clock.to(datetime(2026, 12, 7, 8, 59, 0, tzinfo=UTC))  # both users' reads are due by now
    for minute in range(4):
        await scheduler.round()
        made = calls(world) - calls_before
        assert made <= 2 * (minute + 1), f"{made} overviews read by minute {minute + 1}"
        world.clock.to(world.clock() + timedelta(minutes=1))
    await scheduler.round()
    assert calls(world) - calls_before == 6  # everyone read once, in the end


async def test_the_digest_message_names_changes_and_the_off_switch(world: World) -> None:
    from bot.blocks.follows import digest_message

    user = someone()
    ada = await follow(world, user)
    world.sandbox.crm.update_person(user.default_subject, account(world, user), ada.person.id, title="CEO")
    digest = await world.follows.digest_now(user)
    message = digest_message(digest)
    text = str([block.to_dict() for block in message.blocks])
    assert "Title: " in text and "→ CEO" in text and "/rollout digest off" in text
    assert isinstance(digest, Digest) and not isinstance(digest.gone, GonePerson)
