"""An in-memory CRM standing in for the accounts a user connects to Rollout.

State is per subject (the JWT `sub`), created lazily from a deterministic seed, so two `SandboxCrm(seed=7)` hold equal
data and no subject ever sees another's records. Everything runs on one event loop, so plain dicts suffice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.emails import is_email
from bot.sandbox.seed import OWNERS, SEED_PEOPLE, SeedPerson


@dataclass(frozen=True, slots=True)
class Provider:
    key: str
    label: str
    person_url: str  # format string with {id}


PROVIDERS: dict[str, Provider] = {
    p.key: p
    for p in (
        Provider("hubspot", "HubSpot", "https://app.hubspot.example/contacts/{id}"),
        Provider("salesforce", "Salesforce", "https://acme.lightning.salesforce.example/lightning/r/Contact/{id}/view"),
        Provider("pipedrive", "Pipedrive", "https://app.pipedrive.example/person/{id}"),
    )
}

# Seeded activity is dated relative to a fixed instant (not "now") so seeded data is identical across runs; it lies
# in the past so notes written during a session sort as the newest.
SEED_ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
API_USER = "Sandbox User"  # who the CRM records as the author of writes made through Rollout

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CrmError(Exception):
    """A request the CRM refuses. `code` is the Rollout error code; `message` is safe to show to the caller."""

    code = "crm_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CrmError):
    code = "invalid_input"


class NotFound(CrmError):
    code = "not_found"


class Conflict(CrmError):
    code = "conflict"


@dataclass(frozen=True, slots=True)
class CrmAccount:
    id: str
    app_key: str
    label: str

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "appKey": self.app_key, "label": self.label}


@dataclass(slots=True)
class CrmPerson:
    id: str
    first_name: str
    last_name: str
    email: str
    title: str
    company: str
    phone: str
    owner: str
    stage: str
    last_activity_at: str
    url: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "name": self.name,
            "email": self.email,
            "title": self.title,
            "company": self.company,
            "phone": self.phone,
            "owner": self.owner,
            "stage": self.stage,
            "lastActivityAt": self.last_activity_at,
            "url": self.url,
        }

    def to_match(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "title": self.title, "company": self.company}


@dataclass(frozen=True, slots=True)
class CrmNote:
    id: str
    person_id: str
    content: str
    created_at: str
    author: str

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "content": self.content, "createdAt": self.created_at, "author": self.author}


@dataclass(frozen=True, slots=True)
class CrmTask:
    id: str
    person_id: str
    title: str
    due_date: str | None
    status: str
    description: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "dueDate": self.due_date,
            "status": self.status,
            "description": self.description,
        }


@dataclass(slots=True)
class _AccountData:
    account: CrmAccount
    provider: Provider
    id_prefix: str  # seed/subject/credential: makes ids deterministic yet distinct across accounts
    people: dict[str, CrmPerson] = field(default_factory=dict)
    notes: list[CrmNote] = field(default_factory=list)
    tasks: list[CrmTask] = field(default_factory=list)
    issued_ids: int = 0

    def new_id(self, kind: str) -> str:
        self.issued_ids += 1
        digest = hashlib.sha256(f"{self.id_prefix}/{kind}/{self.issued_ids}".encode()).hexdigest()[:16]
        return f"{kind}_{digest}"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return _timestamp(datetime.now(UTC))


class SandboxCrm:
    def __init__(self, *, accounts_per_new_subject: int = 1, seed: int = 7) -> None:
        if accounts_per_new_subject < 0:
            raise ValueError("accounts_per_new_subject must be >= 0")
        self._accounts_per_new_subject = accounts_per_new_subject
        self._seed = seed
        self._subjects: dict[str, dict[str, _AccountData]] = {}  # subject -> credential id -> data
        self._connections_made: dict[str, int] = {}  # subject -> accounts ever connected, for credential ids

    # ---- accounts ----------------------------------------------------------------------------------------------

    def set_accounts(self, subject: str, providers: Sequence[str]) -> None:
        """Replace the subject's accounts with freshly seeded ones, one per provider given."""
        self._subjects[subject] = {}
        self._connections_made[subject] = 0
        for provider in providers:
            self.connect(subject, provider)

    def connect(self, subject: str, provider: str) -> CrmAccount:
        known = PROVIDERS.get(provider)
        if known is None:
            raise ValueError(f"unknown provider {provider!r}; expected one of {sorted(PROVIDERS)}")
        accounts = self._accounts_of(subject)
        number = self._connections_made[subject] = self._connections_made[subject] + 1
        same_provider = sum(1 for data in accounts.values() if data.provider.key == provider)
        label = known.label if same_provider == 0 else f"{known.label} {same_provider + 1}"
        account = CrmAccount(id=f"cred_{provider}_{number}", app_key=provider, label=label)
        accounts[account.id] = self._seeded_account(subject, account, known)
        return account

    def disconnect(self, subject: str, credential_id: str) -> None:
        """The user removed one CRM account in Rollout; the others stay as they are."""
        self._accounts_of(subject).pop(credential_id, None)

    def accounts(self, subject: str) -> list[CrmAccount]:
        return [data.account for data in self._accounts_of(subject).values()]

    def account(self, subject: str, credential_id: str) -> CrmAccount | None:
        data = self._accounts_of(subject).get(credential_id)
        return data.account if data else None

    # ---- reads -------------------------------------------------------------------------------------------------

    def people(self, subject: str, credential_id: str) -> list[CrmPerson]:
        return list(self._data(subject, credential_id).people.values())

    def person(self, subject: str, credential_id: str, person_id: str) -> CrmPerson:
        found = self._data(subject, credential_id).people.get(person_id)
        if found is None:
            raise NotFound(f"No person matches '{person_id}'.")
        return found

    def find_people(
        self,
        subject: str,
        credential_id: str,
        *,
        person_id: str | None = None,
        email: str | None = None,
        query: str | None = None,
    ) -> list[CrmPerson]:
        """People matching the most specific criterion given: id, then exact email, then name/email substring."""
        people = self._data(subject, credential_id).people
        if person_id:
            return [people[person_id]] if person_id in people else []
        if email:
            wanted = email.strip().casefold()
            return [p for p in people.values() if p.email.casefold() == wanted]
        needle = (query or "").strip().casefold()
        if not needle:
            raise InvalidInput("Provide personId, email or query.")
        hits = [p for p in people.values() if needle in p.name.casefold() or needle in p.email.casefold()]
        return sorted(hits, key=lambda p: (p.name.casefold(), p.id))

    def notes_of(self, subject: str, credential_id: str, person_id: str) -> list[CrmNote]:
        """Newest first; among equal timestamps the later write comes first."""
        notes = [(n.created_at, i, n) for i, n in enumerate(self._data(subject, credential_id).notes)]
        return [n for _, _, n in sorted((t for t in notes if t[2].person_id == person_id), reverse=True)]

    def tasks_of(self, subject: str, credential_id: str, person_id: str) -> list[CrmTask]:
        return [t for t in self._data(subject, credential_id).tasks if t.person_id == person_id]

    # ---- writes ------------------------------------------------------------------------------------------------

    def create_person(
        self,
        subject: str,
        credential_id: str,
        *,
        first_name: str,
        email: str,
        last_name: str = "",
        title: str = "",
        company: str = "",
        phone: str = "",
    ) -> CrmPerson:
        data = self._data(subject, credential_id)
        first_name, email = first_name.strip(), email.strip()
        if not first_name:
            raise InvalidInput("firstName must not be empty.")
        if not is_email(email):
            raise InvalidInput(f"'{email}' is not a valid email address.")
        if any(p.email.casefold() == email.casefold() for p in data.people.values()):
            raise Conflict(f"A person with email '{email}' already exists.")
        person_id = data.new_id("per")
        person = CrmPerson(
            id=person_id,
            first_name=first_name,
            last_name=last_name.strip(),
            email=email,
            title=title.strip(),
            company=company.strip(),
            phone=phone.strip(),
            owner=API_USER,
            stage="Lead",
            last_activity_at=_now(),
            url=data.provider.person_url.format(id=person_id),
        )
        data.people[person_id] = person
        return person

    def create_note(self, subject: str, credential_id: str, *, person_id: str, content: str) -> CrmNote:
        data = self._data(subject, credential_id)
        if not content.strip():
            raise InvalidInput("content must not be empty.")
        person = self.person(subject, credential_id, person_id)
        note = CrmNote(data.new_id("note"), person.id, content, _now(), API_USER)
        data.notes.append(note)
        person.last_activity_at = note.created_at
        return note

    def create_task(
        self,
        subject: str,
        credential_id: str,
        *,
        person_id: str,
        title: str,
        due_date: str | None = None,
        description: str = "",
    ) -> CrmTask:
        data = self._data(subject, credential_id)
        if not title.strip():
            raise InvalidInput("title must not be empty.")
        if due_date is not None:
            _validate_iso_date(due_date)
        person = self.person(subject, credential_id, person_id)
        task = CrmTask(data.new_id("task"), person.id, title.strip(), due_date, "open", description)
        data.tasks.append(task)
        return task

    # ---- changes made in the CRM by someone else -----------------------------------------------------------------
    # Rollout has no tools for these; the sandbox needs them so a demo or test can change what an overview shows.

    def update_person(
        self,
        subject: str,
        credential_id: str,
        person_id: str,
        *,
        title: str | None = None,
        company: str | None = None,
        owner: str | None = None,
        stage: str | None = None,
    ) -> CrmPerson:
        """Change only the fields given ("" clears one), as an edit in the CRM would, and bump the last activity."""
        data = self._known_data(subject, credential_id)
        changes = {
            name: value.strip()
            for name, value in (("title", title), ("company", company), ("owner", owner), ("stage", stage))
            if value is not None
        }
        if not changes:
            raise InvalidInput("Give at least one of title, company, owner or stage.")
        person = _person_in(data, person_id)
        for name, value in changes.items():
            setattr(person, name, value)
        person.last_activity_at = _now()
        return person

    def complete_task(self, subject: str, credential_id: str, task_id: str) -> CrmTask:
        """Mark a task completed, as its owner would in the CRM; completing it again changes nothing."""
        data = self._known_data(subject, credential_id)
        index = next((i for i, t in enumerate(data.tasks) if t.id == task_id), None)
        if index is None:
            raise NotFound(f"No task matches '{task_id}'.")
        task = data.tasks[index]
        if task.status != "completed":
            # Tasks are frozen so callers can hold them safely; the list holds the current version.
            task = data.tasks[index] = replace(task, status="completed")
            person = data.people.get(task.person_id)
            if person is not None:
                person.last_activity_at = _now()
        return task

    def remove_person(self, subject: str, credential_id: str, person_id: str) -> None:
        """Delete a person with their notes and tasks, as a deletion in the CRM would."""
        data = self._known_data(subject, credential_id)
        _person_in(data, person_id)
        del data.people[person_id]
        data.notes = [n for n in data.notes if n.person_id != person_id]
        data.tasks = [t for t in data.tasks if t.person_id != person_id]

    # ---- internals ---------------------------------------------------------------------------------------------

    def _accounts_of(self, subject: str) -> dict[str, _AccountData]:
        if subject not in self._subjects:
            providers = list(PROVIDERS)
            self.set_accounts(subject, [providers[i % len(providers)] for i in range(self._accounts_per_new_subject)])
        return self._subjects[subject]

    def _data(self, subject: str, credential_id: str) -> _AccountData:
        data = self._accounts_of(subject).get(credential_id)
        if data is None:
            raise KeyError(credential_id)
        return data

    def _known_data(self, subject: str, credential_id: str) -> _AccountData:
        """Like `_data`, but an unknown account is the caller's mistake to report, not a bug."""
        data = self._accounts_of(subject).get(credential_id)
        if data is None:
            raise NotFound(f"No CRM account '{credential_id}'.")
        return data

    def _seeded_account(self, subject: str, account: CrmAccount, provider: Provider) -> _AccountData:
        data = _AccountData(account, provider, id_prefix=f"{self._seed}/{subject}/{account.id}")
        for index, seed in enumerate(SEED_PEOPLE):
            self._add_seed_person(data, index, seed)
        return data

    def _add_seed_person(self, data: _AccountData, index: int, seed: SeedPerson) -> None:
        person_id = data.new_id("per")
        owner = OWNERS[index % len(OWNERS)]
        notes = [
            CrmNote(
                data.new_id("note"), person_id, n.content, _timestamp(SEED_ANCHOR - timedelta(days=n.days_ago)), owner
            )
            for n in seed.notes
        ]
        last_activity = max((n.created_at for n in notes), default=_timestamp(SEED_ANCHOR - timedelta(days=45)))
        data.people[person_id] = CrmPerson(
            id=person_id,
            first_name=seed.first_name,
            last_name=seed.last_name,
            email=seed.email,
            title=seed.title,
            company=seed.company,
            phone=seed.phone,
            owner=owner,
            stage=seed.stage,
            last_activity_at=last_activity,
            url=data.provider.person_url.format(id=person_id),
        )
        data.notes.extend(notes)
        data.tasks.extend(
            CrmTask(
                data.new_id("task"),
                person_id,
                t.title,
                (SEED_ANCHOR.date() + timedelta(days=t.due_in_days)).isoformat(),
                "open",
                t.description,
            )
            for t in seed.tasks
        )


def _person_in(data: _AccountData, person_id: str) -> CrmPerson:
    found = data.people.get(person_id)
    if found is None:
        raise NotFound(f"No person matches '{person_id}'.")
    return found


def _validate_iso_date(value: str) -> None:
    try:
        if not _ISO_DATE.match(value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"dueDate '{value}' is not a valid date; use YYYY-MM-DD.") from None
