"""The people each user follows: kept encrypted for that user, forgotten by retention, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.store import Store
from bot.store.follows import FollowKey

ADA = FollowKey("", "per_ada")
OVERVIEW = {"title": "Head of Research", "notes": [["note_1", "Met at the conference"]], "tasks": {}}


async def test_what_is_followed_is_stored_encrypted_for_its_user(store: Store, make_user, raw_database, database_url):
    user, other = make_user(), make_user()
    assert await store.follows.follow(user, ADA, {"name": "Ada Lovelace"}, limit=5) == "followed"
    await store.follows.read(user, ADA, OVERVIEW, datetime.now(UTC))
    async with raw_database(database_url) as database, database.write() as connection:
        row = (
            await connection.execute(
                text("SELECT person, reported, latest FROM follows WHERE user_id = :user"), {"user": user.user_id}
            )
        ).one()
        assert not any("Ada" in column or "conference" in column for column in row)
        # A row copied to someone else does not open for them.
        await connection.execute(
            text(
                "INSERT INTO follows (team_id, user_id, account_id, person_id, person, latest, created_at, updated_at)"
                " SELECT team_id, :other, account_id, person_id, person, latest, created_at, updated_at FROM follows"
                " WHERE user_id = :user"
            ),
            {"other": other.user_id, "user": user.user_id},
        )
    (mine,) = await store.follows.of(user)
    (copied,) = await store.follows.of(other)
    assert mine.person == {"name": "Ada Lovelace"} and mine.latest == OVERVIEW and mine.reported == OVERVIEW
    assert copied.person == {} and copied.latest is None


async def test_a_followed_persons_first_read_is_the_baseline_and_later_reads_wait_to_be_seen(store: Store, make_user):
    user = make_user()
    await store.follows.follow(user, ADA, {"name": "Ada"}, limit=5)
    now = datetime.now(UTC)
    await store.follows.read(user, ADA, OVERVIEW, now)
    changed = {**OVERVIEW, "title": "CEO"}
    await store.follows.read(user, ADA, changed, now)
    (record,) = await store.follows.of(user)
    assert record.reported == OVERVIEW and record.latest == changed
    await store.follows.mark_reported(user, [ADA])
    (record,) = await store.follows.of(user)
    assert record.reported == changed


async def test_people_reported_gone_are_unfollowed_once_seen(store: Store, make_user):
    user = make_user()
    await store.follows.follow(user, ADA, {"name": "Ada"}, limit=5)
    await store.follows.read(user, ADA, None, datetime.now(UTC), gone="not_found")
    (record,) = await store.follows.of(user)
    assert record.gone == "not_found"
    assert await store.follows.mark_reported(user, [ADA]) == 1
    assert await store.follows.of(user) == []


async def test_retention_forgets_old_overviews_but_keeps_the_follow(store: Store, make_user):
    user, recent = make_user(), make_user()
    now = datetime.now(UTC)
    for who, when in ((user, now - timedelta(days=40)), (recent, now)):
        await store.follows.follow(who, ADA, {"name": "Ada"}, limit=5)
        await store.follows.read(who, ADA, OVERVIEW, when)
    assert await store.follows.forget_overviews(now - timedelta(days=30)) >= 1
    (old,) = await store.follows.of(user)
    assert (old.reported, old.latest, old.latest_at) == (None, None, None) and old.person == {"name": "Ada"}
    (kept,) = await store.follows.of(recent)
    assert kept.latest == OVERVIEW


async def test_the_limit_counts_each_users_follows(store: Store, make_user):
    user = make_user()
    assert await store.follows.follow(user, ADA, {}, limit=1) == "followed"
    assert await store.follows.follow(user, ADA, {}, limit=1) == "already"
    assert await store.follows.follow(user, FollowKey("", "per_grace"), {}, limit=1) == "full"
    assert await store.follows.follow(make_user(), FollowKey("", "per_grace"), {}, limit=1) == "followed"


async def test_an_uninstall_forgets_the_teams_follows_and_scheduled_work_only(store: Store, make_user):
    user = make_user()
    elsewhere = type(user)("TELSEWHERE" + user.team_id, user.user_id)
    for who in (user, elsewhere):
        await store.follows.follow(who, ADA, {"name": "Ada"}, limit=5)
        await store.schedule.add(f"digest:{who}", "digest", who, datetime.now(UTC))
        await store.digest_settings.set_enabled(who, False)
    forgotten = await store.teams.forget(user.team_id)
    assert (forgotten.follows, forgotten.scheduled) == (1, 1)
    assert await store.follows.of(user) == [] and await store.schedule.pending(user, "digest") == []
    assert (await store.digest_settings.get(user)).enabled  # the setting went too: back to the default
    assert len(await store.follows.of(elsewhere)) == 1
    assert not (await store.digest_settings.get(elsewhere)).enabled
