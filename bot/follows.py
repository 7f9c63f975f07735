"""Following CRM people and the morning digest of what changed for them: the one place this feature's rules live.

Rollout sends no change events, so change is found by reading each followed person's overview as the user (their own
token and account) and comparing it with the one stored when the user last saw a digest. The digest is planned for
9:00 on the user's working days in their own time zone; its reads are spread over the hour before, within the
workspace's budget of scheduled reads, and it is sent at 9:00 only when something changed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bot import metrics
from bot.blocks.follows import digest_message
from bot.commands import PersonRef
from bot.crm import CrmService
from bot.identity import SlackUser
from bot.rollout.client import Problem
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Digest,
    DigestSwitched,
    DueTask,
    Failure,
    FailureReason,
    FieldChange,
    Followed,
    FollowedPerson,
    Following,
    FollowLimit,
    GonePerson,
    Matches,
    NotFollowing,
    NotFound,
    PersonNews,
    PersonOverview,
    TaskLine,
    Unfollowed,
    Unrecognised,
    is_open_status,
)
from bot.schedule import Finished, JobResult, Later, Messenger, ReadBudget, TimeZones
from bot.store import Store
from bot.store.follows import FollowKey, FollowRecord, Gone
from bot.store.schedule import ScheduledJob

log = logging.getLogger(__name__)

DIGEST = "digest"  # the scheduled work's kind
MAX_FOLLOWS = 50  # per user: a digest reads each of them every working day
DIGEST_AT = time(9, 0)
READ_WINDOW = timedelta(hours=1)  # reads happen in the hour before 9:00, each user at their own minute
KEPT_NOTES = 50  # newest notes remembered per person: enough to tell which are new
NOTE_PREVIEW = 300
WORKING_DAYS = range(0, 5)  # Monday to Friday
_FIELDS = (("title", "Title"), ("company", "Company"), ("owner", "Owner"), ("stage", "Stage"))


class Follows:
    def __init__(
        self,
        store: Store,
        crm: CrmService,
        time_zones: TimeZones,
        budget: ReadBudget,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limit: int = MAX_FOLLOWS,
    ) -> None:
        self._store = store
        self._crm = crm
        self.time_zones = time_zones
        self._budget = budget
        self._clock = clock
        self.limit = limit

    @property
    def messenger(self) -> Messenger | None:
        return self.time_zones.messenger

    # ---- following ----------------------------------------------------------------------------------------------

    async def follow(
        self, user: SlackUser, found: PersonOverview, asked_credential: str | None = None
    ) -> Followed | FollowLimit:
        """Follow the person an overview is about, in the account it came from. That overview is the baseline the
        first digest compares with."""
        account = found.credential.id if found.credential else asked_credential
        key = FollowKey(account or "", found.person.id)
        person = _who(found)
        outcome = await self._store.follows.follow(user, key, person, limit=self.limit)
        if outcome == "full":
            return FollowLimit(self.limit)
        await self._store.follows.read(user, key, snapshot(found), self._clock(), person=person)
        settings = await self._store.digest_settings.get(user)
        if settings.enabled:
            await self.plan(user, self._clock())
        return Followed(_followed(key, person), outcome == "already", settings.enabled, found)

    async def follow_person(
        self, user: SlackUser, person: PersonRef
    ) -> Followed | FollowLimit | Matches | NotFound | Unrecognised | Problem:
        """Follow a person named by id (a card's button): read as the user first, so they are known to exist."""
        found = await self._crm.person(user, person.id, credential_id=person.credential_id)
        if isinstance(found, PersonOverview):
            return await self.follow(user, found, person.credential_id)
        return found

    async def unfollow(self, user: SlackUser, account_id: str, person_id: str) -> Unfollowed | NotFollowing:
        key = FollowKey(account_id, person_id)
        records = {record.key: record for record in await self._store.follows.of(user)}
        record = records.get(key)
        if record is None or not await self._store.follows.unfollow(user, key):
            return NotFollowing("")
        return Unfollowed(_followed(key, record.person))

    async def unfollow_matching(self, user: SlackUser, query: str) -> Unfollowed | Following | NotFollowing:
        """Unfollow by what the user typed, among the people they follow (no CRM call): one match is unfollowed;
        several are listed to pick from."""
        wanted = query.strip().casefold()
        matching = [
            _followed(record.key, record.person)
            for record in await self._store.follows.of(user)
            if wanted
            and (
                wanted in str(record.person.get("name") or "").casefold()
                or wanted == str(record.person.get("email") or "").casefold()
                or wanted == record.key.person_id.casefold()
            )
        ]
        if not matching:
            return NotFollowing(query)
        if len(matching) > 1:
            settings = await self._store.digest_settings.get(user)
            return Following(tuple(matching), settings.enabled, query)
        chosen = matching[0]
        return await self.unfollow(user, chosen.account_id, chosen.person_id)

    async def following(self, user: SlackUser) -> Following:
        records = await self._store.follows.of(user)
        settings = await self._store.digest_settings.get(user)
        return Following(tuple(_followed(record.key, record.person) for record in records), settings.enabled)

    async def is_following(self, user: SlackUser, person: PersonRef) -> bool:
        return await self._store.follows.is_following(user, FollowKey(person.credential_id or "", person.id))

    # ---- the digest ---------------------------------------------------------------------------------------------

    async def switch_digest(self, user: SlackUser, on: bool) -> DigestSwitched:
        await self._store.digest_settings.set_enabled(user, on)
        if on:
            await self.plan(user, self._clock())
        else:
            await self._store.schedule.cancel(user, kind=DIGEST)
        return DigestSwitched(on, len(await self._store.follows.of(user)))

    async def digest_now(self, user: SlackUser) -> Digest:
        """The digest on demand: everyone followed is read now, and what it shows counts as seen."""
        now = self._clock()
        records = await self._store.follows.of(user)
        for record in records:
            await self._read(user, record, now)
        read = await self._store.follows.of(user)
        digest = await self._compose(user, read, now)
        await self._store.follows.mark_reported(user, _shown(read))
        return digest

    async def plan(self, user: SlackUser, now: datetime) -> bool:
        """Schedule the user's next digest (a no-op when it is scheduled already); False when there is nothing to
        plan (no one followed, or digests off)."""
        settings = await self._store.digest_settings.get(user)
        if not settings.enabled or not await self._store.follows.of(user):
            return False
        local = await self.time_zones.of(user, now)
        send_at = next_digest_time(now, local)
        read_at = max(now, send_at - READ_WINDOW + _spread(user))
        day = send_at.astimezone(local).date().isoformat()
        await self._store.schedule.add(
            f"digest:{user.team_id}:{user.user_id}:{day}", DIGEST, user, read_at, {"send_at": send_at.isoformat()}
        )
        return True

    async def run(self, job: ScheduledJob, now: datetime) -> JobResult:
        """One scheduled digest: read (within the budget), wait for 9:00, send if anything changed, plan the next."""
        user = job.user
        send_at = _instant(job.payload.get("send_at")) or now
        settings = await self._store.digest_settings.get(user)
        if not settings.enabled:
            return Finished()
        if job.facts.get("sending"):
            # Taken over after the DM may have gone out: never send it twice; what it showed counts as seen.
            await self._store.follows.mark_reported(user, _keys(job.facts))
            await self.plan(user, max(now, send_at) + timedelta(minutes=1))
            return Finished()
        if not job.facts.get("read"):
            left = await self._read_within_budget(user, now, since=send_at - READ_WINDOW)
            if left:
                metrics.scheduled(DIGEST, "waiting")
                return Later(ReadBudget.next_minute(now))
            if now < send_at:
                return Later(send_at, {"read": True})
        local_today = now.astimezone(await self.time_zones.of(user, now)).date()
        read = await self._store.follows.of(user)
        digest = await self._compose(user, read, now, today=local_today)
        if digest.worth_sending and self.messenger is not None:
            shown = _shown(read)
            await self._store.schedule.note(job.key, {"sending": True, "shown_keys": _encode_keys(shown)})
            message = digest_message(digest)
            if await self.messenger.dm(user, message.blocks, message.text):
                await self._store.follows.mark_reported(user, shown)
                metrics.scheduled(DIGEST, "sent")
            else:  # Slack would not take it: what changed is kept for the next digest
                log.warning("the morning digest for %s could not be delivered", user)
                metrics.scheduled(DIGEST, "undelivered")
        else:
            metrics.scheduled(DIGEST, "unchanged")
        await self.plan(user, max(now, send_at) + timedelta(minutes=1))
        return Finished()

    # ---- reading and comparing ----------------------------------------------------------------------------------

    async def _read_within_budget(self, user: SlackUser, now: datetime, *, since: datetime) -> int:
        """Read the followed people not read since `since`, as far as the workspace's budget allows; how many are
        left for a later minute."""
        stale = [r for r in await self._store.follows.of(user) if r.latest_at is None or r.latest_at < since]
        if not stale:
            return 0
        granted = await self._budget.take(user.team_id, now, len(stale))
        for record in stale[:granted]:
            await self._read(user, record, now)
        return len(stale) - granted

    async def _read(self, user: SlackUser, record: FollowRecord, now: datetime) -> None:
        if record.gone is not None:
            return
        account = record.key.account_id or None
        found = await self._crm.person(user, record.key.person_id, credential_id=account)
        gone: Gone | None = None
        if isinstance(found, PersonOverview):
            await self._store.follows.read(user, record.key, snapshot(found), now, person=_who(found))
            return
        if isinstance(found, NotFound):
            gone = "not_found"
        elif isinstance(found, ConnectNeeded | ChooseCredential) or (
            isinstance(found, Failure) and found.reason is FailureReason.CREDENTIAL_GONE
        ):
            # Read with its own account id: a choice or a connect link means that account is no longer connected.
            gone = "account" if account or isinstance(found, ConnectNeeded) else None
        if gone is not None:
            await self._store.follows.read(user, record.key, None, now, gone=gone)
        # Anything else (Rollout unreachable, a shape it can't read) is tried again at the next digest.

    async def _compose(
        self, user: SlackUser, records: Sequence[FollowRecord], now: datetime, *, today: date | None = None
    ) -> Digest:
        settings = await self._store.digest_settings.get(user)
        if today is None:
            today = now.astimezone(await self.time_zones.of(user, now)).date()
        news: list[PersonNews] = []
        due: list[DueTask] = []
        gone: list[GonePerson] = []
        unchecked = 0
        for record in records:
            person = _followed(record.key, record.person)
            if record.gone is not None:
                gone.append(GonePerson(person, record.gone))
                continue
            if record.latest is None:
                unchecked += 1
                continue
            changes = compare(person, record.reported, record.latest)
            if changes is not None:
                news.append(changes)
            due += _due(person, record.latest, today)
        due.sort(key=lambda item: (item.task.due or "", item.person.name.casefold()))
        return Digest(tuple(news), tuple(due), tuple(gone), len(records), unchecked, settings.enabled)


# ---- overviews as stored, and what changed between two --------------------------------------------------------------


def snapshot(found: PersonOverview) -> dict[str, Any]:
    """What a digest compares of an overview: the fields it reports, note ids (with a preview), tasks by id."""
    person = found.person
    return {
        **{name: getattr(person, name) for name, _ in _FIELDS},
        "notes": [[note.id, note.content[:NOTE_PREVIEW]] for note in person.notes[:KEPT_NOTES] if note.id],
        "tasks": {
            task.id: {"title": task.title, "status": task.status, "due": task.due_date}
            for task in person.tasks
            if task.id
        },
    }


def compare(person: FollowedPerson, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> PersonNews | None:
    """What changed from `before` to `after`; None when nothing did (or there is no `before` to compare with)."""
    if before is None:
        return None
    seen_notes = {str(note[0]) for note in before.get("notes") or () if note}
    notes = tuple(str(note[1]) for note in after.get("notes") or () if note and str(note[0]) not in seen_notes)
    tasks_before: Mapping[str, Any] = before.get("tasks") or {}
    tasks_after: Mapping[str, Any] = after.get("tasks") or {}
    opened = tuple(
        _task_line(task)
        for task_id, task in tasks_after.items()
        if _open(task) and not (task_id in tasks_before and _open(tasks_before[task_id]))
    )
    closed = tuple(
        _task_line(task)
        for task_id, task in tasks_before.items()
        if _open(task) and not (task_id in tasks_after and _open(tasks_after[task_id]))
    )
    fields = tuple(
        FieldChange(label, before.get(name), after.get(name))
        for name, label in _FIELDS
        if (before.get(name) or None) != (after.get(name) or None)
    )
    if not (notes or opened or closed or fields):
        return None
    return PersonNews(person, notes, opened, closed, fields)


def _due(person: FollowedPerson, latest: Mapping[str, Any], today: date) -> list[DueTask]:
    found = []
    for task in (latest.get("tasks") or {}).values():
        due = _date(task.get("due"))
        if _open(task) and due is not None and due <= today:
            found.append(DueTask(person, _task_line(task), overdue=due < today))
    return found


def next_digest_time(now: datetime, local: Any) -> datetime:
    """The next 9:00 on a working day in the user's zone, strictly after `now`, as a UTC instant."""
    day = now.astimezone(local).date()
    while True:
        at = datetime.combine(day, DIGEST_AT, tzinfo=local)
        if at > now and day.weekday() in WORKING_DAYS:
            return at.astimezone(UTC)
        day += timedelta(days=1)


def _spread(user: SlackUser) -> timedelta:
    # Each user reads at their own minute of the hour before 9:00, so a workspace's reads don't all start at once.
    digest = hashlib.sha256(f"{user.team_id}:{user.user_id}".encode()).digest()
    return timedelta(seconds=int.from_bytes(digest[:4]) % int(READ_WINDOW.total_seconds()))


def _open(task: Mapping[str, Any]) -> bool:
    return is_open_status(task.get("status"))


def _task_line(task: Mapping[str, Any]) -> TaskLine:
    return TaskLine(str(task.get("title") or ""), task.get("due") or None)


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _who(found: PersonOverview) -> dict[str, Any]:
    person = found.person
    return {"name": person.name, "email": person.email, "url": person.url}


def _followed(key: FollowKey, person: Mapping[str, Any]) -> FollowedPerson:
    return FollowedPerson(
        key.account_id,
        key.person_id,
        str(person.get("name") or "Unnamed person"),
        person.get("email") or None,
        person.get("url") or None,
    )


def _shown(records: Sequence[FollowRecord]) -> list[FollowKey]:
    """Everyone whose overview a digest was composed from: all of them count as seen once it is delivered."""
    return [record.key for record in records if record.latest is not None or record.gone is not None]


def _encode_keys(keys: Sequence[FollowKey]) -> list[list[str]]:
    return [[key.account_id, key.person_id] for key in keys]


def _keys(facts: Mapping[str, Any]) -> list[FollowKey]:
    return [FollowKey(str(pair[0]), str(pair[1])) for pair in facts.get("shown_keys") or () if len(pair) == 2]
