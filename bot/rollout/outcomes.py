"""Typed results of Rollout calls. Handlers `match` on these and pick a Block Kit builder.

Nothing here holds an exception text: failures carry a reason code the Slack layer maps to a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    title: str
    due_date: str | None = None  # ISO date
    status: str | None = None  # "open" | "completed" | CRM-specific
    description: str | None = None


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

    @property
    def anything(self) -> bool:
        return self.token or self.default_account or self.conversations > 0


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
    | Failure
)
