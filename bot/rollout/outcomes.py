"""Typed results of Rollout calls. Handlers `match` on these and pick a Block Kit builder.

Nothing here holds an exception text: failures carry a reason code the Slack layer maps to a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


@dataclass(frozen=True, slots=True)
class Credential:
    id: str
    provider: str  # e.g. "hubspot", "salesforce"
    label: str  # what the user calls this account, e.g. "Acme HubSpot"


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    content: str
    created_at: str | None = None  # ISO 8601 as the CRM gives it
    author: str | None = None


DONE_STATUSES = frozenset({"completed", "complete", "done", "closed", "cancelled", "canceled"})


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    title: str
    due_date: str | None = None  # ISO date
    status: str | None = None  # "open" | "completed" | CRM-specific
    description: str | None = None

    @property
    def is_open(self) -> bool:
        return is_open_status(self.status)


def is_open_status(status: str | None) -> bool:
    """Any status but the CRMs' words for finished: a status the bot doesn't know counts as open."""
    return (status or "").strip().lower() not in DONE_STATUSES


@dataclass(frozen=True, slots=True)
class PersonSummary:
    """One line of a pick list: enough to tell people apart and fetch the full overview by id."""

    id: str
    name: str
    email: str | None = None
    title: str | None = None
    company: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    email: str | None = None
    title: str | None = None
    company: str | None = None
    phone: str | None = None
    owner: str | None = None
    stage: str | None = None
    last_activity: str | None = None
    url: str | None = None  # deep link into the CRM, when it has one
    notes: tuple[Note, ...] = ()
    tasks: tuple[Task, ...] = ()

    @property
    def summary(self) -> PersonSummary:
        return PersonSummary(self.id, self.name, self.email, self.title, self.company)


# ---- outcomes -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonOverview:
    person: Person
    credential: Credential | None = None  # the CRM account it came from, when known


@dataclass(frozen=True, slots=True)
class Matches:
    """Several people fit the query: the user picks one."""

    query: str
    people: tuple[PersonSummary, ...]


@dataclass(frozen=True, slots=True)
class Created:
    kind: Literal["person", "note", "task"]
    id: str
    summary: str  # one line a person can read: "Task 'Call Ada' due 2026-12-01"
    person_id: str | None = None
    person_name: str | None = None  # who it was written for, when the caller knew
    url: str | None = None
    credential: Credential | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    credentials: tuple[Credential, ...]
    default_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChooseCredential:
    """Several CRM accounts are connected and none was chosen."""

    credentials: tuple[Credential, ...]


@dataclass(frozen=True, slots=True)
class ConnectNeeded:
    """No CRM is connected. The bot fills in `link` itself (never from a tool result) from a freshly minted token, so
    it embeds the user's token: DM only, never log, never store."""

    link: str = field(default="", repr=False)
    valid_minutes: int | None = None  # how long the link works


@dataclass(frozen=True, slots=True)
class Unrecognised:
    """An overview answer whose shape the bot can't read: shown as Rollout sent it rather than as "no one matches"."""

    query: str
    text: str = field(repr=False)  # CRM data: shown to the asker only, never logged


@dataclass(frozen=True, slots=True)
class NotFound:
    query: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """What `/rollout disconnect` deleted, so the reply can say exactly that."""

    token: bool  # a stored Rollout token
    default_account: bool  # the default CRM account choice
    conversations: int  # conversations with the assistant the user started
    messages: int  # their stored messages
    followed: int = 0  # people they followed, with the overviews kept for their digests
    reminders: int = 0  # task reminders not yet sent

    @property
    def anything(self) -> bool:
        return self.token or self.default_account or self.conversations > 0 or self.followed > 0 or self.reminders > 0


# ---- following people: answers about what a user follows, and the digest of what changed --------------------------


@dataclass(frozen=True, slots=True)
class FollowedPerson:
    """A person a user follows, as the bot keeps them: ids and what to call them (CRM data: shown to that user only)."""

    account_id: str  # the CRM credential; "" for the user's only or default one
    person_id: str
    name: str
    email: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Followed:
    person: FollowedPerson
    already: bool = False  # they were followed before this request
    digest_on: bool = True  # whether the morning digest will tell about them
    # The overview they were followed from, to redraw a card's button with: CRM data, kept out of logs.
    overview: PersonOverview | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class FollowLimit:
    limit: int


@dataclass(frozen=True, slots=True)
class Unfollowed:
    person: FollowedPerson


@dataclass(frozen=True, slots=True)
class NotFollowing:
    query: str


@dataclass(frozen=True, slots=True)
class Following:
    """Who the user follows; with `query`, only those matching it (several matched an unfollow)."""

    people: tuple[FollowedPerson, ...]
    digest_on: bool = True
    query: str | None = None


@dataclass(frozen=True, slots=True)
class DigestSwitched:
    on: bool
    following: int


@dataclass(frozen=True, slots=True)
class FieldChange:
    label: str  # "Title", "Company", "Owner", "Stage"
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class TaskLine:
    title: str
    due: str | None = None  # ISO date as the CRM gave it


@dataclass(frozen=True, slots=True)
class PersonNews:
    person: FollowedPerson
    notes: tuple[str, ...] = ()  # the new notes' text, newest first
    opened: tuple[TaskLine, ...] = ()
    closed: tuple[TaskLine, ...] = ()
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True)
class DueTask:
    person: FollowedPerson
    task: TaskLine
    overdue: bool


@dataclass(frozen=True, slots=True)
class GonePerson:
    person: FollowedPerson
    reason: Literal["not_found", "account"]  # deleted from the CRM, or the CRM account is no longer connected


@dataclass(frozen=True, slots=True)
class Digest:
    """What changed for the people a user follows since their last digest, then their tasks due today or overdue."""

    news: tuple[PersonNews, ...] = ()
    due: tuple[DueTask, ...] = ()
    gone: tuple[GonePerson, ...] = ()  # reported once here, and no longer followed
    following: int = 0
    unchecked: int = 0  # followed people Rollout could not be asked about this time
    digest_on: bool = True

    @property
    def worth_sending(self) -> bool:
        """Whether a morning DM has something new to say: a change, someone gone, or a task falling due today (an
        overdue task alone was said before)."""
        return bool(self.news or self.gone or any(not due.overdue for due in self.due))


@dataclass(frozen=True, slots=True)
class Reminder:
    """A task's reminder, as DMed to the person who created the task through the bot."""

    key: str  # the scheduled work it is, for its Snooze and Done buttons
    person: FollowedPerson
    task: TaskLine
    checked: bool = True  # False: Rollout could not be asked whether the task is still open


@dataclass(frozen=True, slots=True)
class ReminderSnoozed:
    task: TaskLine
    until: datetime


@dataclass(frozen=True, slots=True)
class ReminderDismissed:
    task: TaskLine
    person: FollowedPerson


@dataclass(frozen=True, slots=True)
class ReminderGone:
    """The reminder's click came after it was forgotten (retention, disconnect) or from someone else."""


class FailureReason(StrEnum):
    UNREACHABLE = "rollout_unreachable"
    TIMEOUT = "rollout_timeout"
    TOKEN_REJECTED = "rollout_token_rejected"
    INVALID_INPUT = "invalid_input"
    SERVER_ERROR = "rollout_server_error"
    TOOL_MISSING = "rollout_tool_missing"
    WRITE_UNCONFIRMED = "rollout_write_unconfirmed"  # a write was sent but no answer came: it may have been saved
    CREDENTIAL_GONE = "rollout_credential_gone"  # the chosen CRM account is no longer connected
    NEEDS_MORE = "needs_more"  # the request lacks a part and no form could be opened to ask for it


@dataclass(frozen=True, slots=True)
class Failure:
    reason: FailureReason
    # Safe to show a user: our own words or the CRM's validation message, never an exception text or a token.
    detail: str = ""


Outcome = (
    PersonOverview
    | Matches
    | Unrecognised
    | Created
    | Credentials
    | ChooseCredential
    | ConnectNeeded
    | NotFound
    | Disconnected
    | Followed
    | FollowLimit
    | Unfollowed
    | NotFollowing
    | Following
    | DigestSwitched
    | Digest
    | Failure
)
