"""The request model: what a person can ask for without the LLM, and parsing `/rollout …` text into it.

Slash commands, buttons, modal submissions and the terminal demo all build one of these commands and hand it to
`bot.runner.run`. A command waiting for the user to pick or connect a CRM account is parked as `to_record(command)`
(ids and what the user typed, never tokens) and comes back through `from_record`.

Parsing is forgiving: quotes, emails, Slack markup; it never raises.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, timedelta
from typing import Any

from bot.emails import is_email

_SLACK_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")
_SLACK_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>|<(https?://[^>]+)>")
_SLACK_USER = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_DATE_WORD = re.compile(r"\s+(?P<word>due|by|on)\s+", re.IGNORECASE)
_SEPARATOR = re.compile(r"(?<!\d):|:(?!\d)")  # a colon, unless it sits between digits (10:30 is a time)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_IN_DAYS = re.compile(r"^in\s+(\d{1,3})\s+days?$")


@dataclass(frozen=True, slots=True)
class PersonRef:
    """A person once found. Their id means something only in the CRM account it came from."""

    id: str
    name: str = ""
    email: str | None = None
    credential_id: str | None = None  # the account the id belongs to; None: the user's default (or only) one
    url: str | None = None  # the person's page in the CRM, when known


@dataclass(frozen=True, slots=True)
class Help:
    problem: str | None = None  # what was wrong with the input, if that's why help is shown


@dataclass(frozen=True, slots=True)
class Overview:
    query: str
    credential_id: str | None = None  # None: the user's default account


@dataclass(frozen=True, slots=True)
class ShowPerson:
    """The card of one person picked from a list."""

    person: PersonRef


@dataclass(frozen=True, slots=True)
class AddNote:
    person: str  # who, as typed; unused once `target` is known
    text: str  # empty → open the note modal
    target: PersonRef | None = None


@dataclass(frozen=True, slots=True)
class CreateTask:
    person: str
    title: str  # empty → open the task modal
    due: date | None = None
    due_text: str | None = None  # what the user wrote when we couldn't read it as a date
    description: str = ""
    target: PersonRef | None = None


@dataclass(frozen=True, slots=True)
class CreatePerson:
    first_name: str
    last_name: str
    email: str  # may be empty or malformed → open the person modal prefilled
    job_title: str = ""
    company: str = ""


@dataclass(frozen=True, slots=True)
class ListCredentials:
    pass


@dataclass(frozen=True, slots=True)
class Connect:
    pass


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Forget what the bot stores for me: my Rollout token, default account and conversation memory."""


@dataclass(frozen=True, slots=True)
class Follow:
    """Follow a person: the morning digest tells what changed for them."""

    query: str
    credential_id: str | None = None  # None: the user's default account


@dataclass(frozen=True, slots=True)
class Unfollow:
    query: str  # matched against the people followed, not the CRM


@dataclass(frozen=True, slots=True)
class ListFollowing:
    pass


@dataclass(frozen=True, slots=True)
class ShowDigest:
    """What changed for the people followed, now."""


@dataclass(frozen=True, slots=True)
class SwitchDigest:
    on: bool


@dataclass(frozen=True, slots=True)
class FreeText:
    text: str


Command = (
    Help
    | Overview
    | ShowPerson
    | AddNote
    | CreateTask
    | CreatePerson
    | ListCredentials
    | Connect
    | Disconnect
    | Follow
    | Unfollow
    | ListFollowing
    | ShowDigest
    | SwitchDigest
    | FreeText
)
CrmCommand = Overview | ShowPerson | AddNote | CreateTask | CreatePerson | ListCredentials | Follow
"""The commands that can wait for a CRM account and run again; the others never need one."""

_PARKABLE: dict[str, type[CrmCommand]] = {
    "overview": Overview,
    "show_person": ShowPerson,
    "note": AddNote,
    "task": CreateTask,
    "person": CreatePerson,
    "credentials": ListCredentials,
    "follow": Follow,
}
_KIND = {kind: name for name, kind in _PARKABLE.items()}


def to_record(command: CrmCommand) -> dict[str, Any]:
    """A parked command as JSON: a tag and its fields (dates as ISO text, a person as a small object)."""
    record: dict[str, Any] = {"kind": _KIND[type(command)]}
    for item in fields(command):
        value = getattr(command, item.name)
        if isinstance(value, PersonRef):
            value = asdict(value)
        elif isinstance(value, date):
            value = value.isoformat()
        record[item.name] = value
    return record


def from_record(record: Mapping[str, Any]) -> CrmCommand | None:
    """The command a record holds; None when it is not one (an old or damaged record)."""
    kind = _PARKABLE.get(str(record.get("kind")))
    if kind is None:
        return None
    values: dict[str, Any] = {}
    try:
        for item in fields(kind):
            if item.name not in record:
                continue
            value = record[item.name]
            if item.name in ("person", "target") and isinstance(value, Mapping):
                if not isinstance(value.get("id"), str) or not value["id"]:
                    return None
                value = PersonRef(**{f.name: value[f.name] for f in fields(PersonRef) if f.name in value})
            elif item.name == "due" and isinstance(value, str):
                value = date.fromisoformat(value)
            values[item.name] = value
        return kind(**values)
    except (TypeError, ValueError):
        return None


# The words /rollout understands, each with its subcommand (also the metrics label: anything else is free text).
SUBCOMMANDS = {
    "overview": "overview",
    "show": "overview",
    "lookup": "overview",
    "find": "overview",
    "who": "overview",
    "note": "note",
    "task": "task",
    "todo": "task",
    "person": "person",
    "contact": "person",
    "credentials": "credentials",
    "accounts": "credentials",
    "creds": "credentials",
    "connect": "connect",
    "disconnect": "disconnect",
    "forget": "disconnect",
    "follow": "follow",
    "unfollow": "unfollow",
    "following": "following",
    "followed": "following",
    "digest": "digest",
    "help": "help",
}


def parse(text: str, *, today: date) -> Command:
    cleaned = unslack(text).strip()
    if not cleaned:
        return Help()
    verb, _, rest = cleaned.partition(" ")
    kind = SUBCOMMANDS.get(verb.lower())
    rest = rest.strip()
    match kind:
        case "help":
            return Help()
        case "credentials":
            return ListCredentials()
        case "connect":
            return Connect()
        case "disconnect":
            return Disconnect()
        case "overview":
            query = _unquote(rest)
            return Overview(query) if query else Help("Say who to look up, e.g. `/rollout overview ada@example.com`.")
        case "note":
            person, body = split_person(rest)
            if not person:
                return Help("Say who the note is about, e.g. `/rollout note ada@example.com Called about renewal`.")
            return AddNote(person, body)
        case "task":
            return _task(rest, today)
        case "person":
            return _person(rest)
        case "follow":
            query = _unquote(rest)
            return Follow(query) if query else Help("Say who to follow, e.g. `/rollout follow ada@example.com`.")
        case "unfollow":
            query = _unquote(rest)
            return Unfollow(query) if query else ListFollowing()
        case "following":
            return ListFollowing()
        case "digest":
            return _digest(rest)
        case _:
            return FreeText(cleaned)


def unslack(text: str) -> str:
    """Undo Slack's markup for emails, links and mentions so we see what the user typed."""
    text = _SLACK_MAILTO.sub(lambda m: m.group(1), text)
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(3) or m.group(1), text)
    text = _SLACK_USER.sub(lambda m: m.group(2) or "", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("\u00a0", " ")


def split_person(rest: str) -> tuple[str, str]:
    """Person first, then the rest: a quoted name, an email, `Name Surname: text`, or else the first word.

    A quoted name or an email ends the person whatever follows; a colon between digits (10:30) never does."""
    rest = rest.strip()
    if not rest:
        return "", ""
    if rest[0] in "\"'“‘":
        closing = {"“": "”", "‘": "’"}.get(rest[0], rest[0])
        end = rest.find(closing, 1)
        if end > 0:
            return rest[1:end].strip(), rest[end + 1 :].strip()
    first, _, remainder = rest.partition(" ")
    if is_email(first):
        return first, remainder.strip()
    if colon := _SEPARATOR.search(rest):
        head, tail = rest[: colon.start()], rest[colon.end() :]
        # A name has no digits: "Meeting at 10:30: went well" is a note, not a person.
        if 0 < len(head.split()) <= 4 and "://" not in rest[: len(head) + 3] and not any(c.isdigit() for c in head):
            return head.strip(), tail.strip()
    return first.strip(), remainder.strip()


def parse_due(when: str, today: date) -> date | None:
    when = when.strip().lower().rstrip(".")
    if when == "today":
        return today
    if when == "tomorrow":
        return today + timedelta(days=1)
    if when == "next week":
        return today + timedelta(days=7)
    if match := _IN_DAYS.match(when):
        return today + timedelta(days=int(match.group(1)))
    for index, name in enumerate(_WEEKDAYS):
        if when in (name, name[:3], f"next {name}"):
            ahead = (index - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    try:
        return date.fromisoformat(when)
    except ValueError:
        return None


def _task(rest: str, today: date) -> Command:
    person, body = split_person(rest)
    if not person:
        return Help("Say who the task is for, e.g. `/rollout task ada@example.com Send the proposal due friday`.")
    title, due, due_text = _split_due(body, today)
    return CreateTask(person, _unquote(title), due, due_text)


def _split_due(body: str, today: date) -> tuple[str, date | None, str | None]:
    """Title, due date, and what followed "due" when it isn't a date. The last phrase that reads as a date wins, so
    "Follow up on pricing due friday" is due Friday; "on"/"by" count only when a date follows them."""
    phrases = list(_DATE_WORD.finditer(body))
    for phrase in reversed(phrases):
        when = body[phrase.end() :].strip()
        due = parse_due(when, today)
        if due is not None:
            return body[: phrase.start()].strip(), due, None
    unreadable = next((p for p in reversed(phrases) if p.group("word").lower() == "due"), None)
    if unreadable is not None:
        return body[: unreadable.start()].strip(), None, body[unreadable.end() :].strip() or None
    return body.strip(), None, None


def _digest(rest: str) -> Command:
    match rest.lower():
        case "":
            return ShowDigest()
        case "on":
            return SwitchDigest(on=True)
        case "off":
            return SwitchDigest(on=False)
    return Help("`/rollout digest` shows what changed now; `/rollout digest on` or `off` switches the morning digest.")


def _person(rest: str) -> Command:
    try:
        words = shlex.split(rest)
    except ValueError:
        words = rest.split()
    emails = [w for w in words if is_email(w)]
    names = [w for w in words if w not in emails]
    email = emails[0] if emails else ""
    if not names and not email:
        return Help("Give a name and an email, e.g. `/rollout person Ada Lovelace ada@example.com`.")
    first = names[0] if names else ""
    last = " ".join(names[1:])
    return CreatePerson(first, last, email)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in "\"'“‘" and text[-1] in "\"'”’":
        return text[1:-1].strip()
    return text
