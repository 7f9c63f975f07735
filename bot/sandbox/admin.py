"""`POST /admin/people/change`: changes a person as someone else would in the CRM, which Rollout's tools can't.

A demo or test uses it to give a "what changed" digest something to find. It is authenticated like `/mcp`, with the
caller's Rollout token, and changes only that token's subject's accounts, so no one can touch another user's CRM.
Body: `{"credentialId"?: str, "person": id or email, "set"?: {"title"|"company"|"owner"|"stage": str},
"completeTask"?: task id or exact title, "addNote"?: str, "remove"?: bool}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.sandbox.auth import RolloutTokenVerifier
from bot.sandbox.crm import CrmAccount, CrmError, CrmPerson, CrmTask, InvalidInput, NotFound, SandboxCrm

ADMIN_CHANGE_PATH = "/admin/people/change"
SETTABLE_FIELDS = ("title", "company", "owner", "stage")
_BODY_KEYS = {"credentialId", "person", "set", "completeTask", "addNote", "remove"}
_STATUS = {InvalidInput.code: 400, NotFound.code: 404}


@dataclass(frozen=True, slots=True)
class _Change:
    """A validated body: every part checked before anything is applied, so a refused request changes nothing."""

    credential_id: str | None
    person: str
    fields: dict[str, str]
    complete_task: str | None
    add_note: str | None
    remove: bool


class AdminRoute:
    def __init__(self, *, crm: SandboxCrm, verifier: RolloutTokenVerifier) -> None:
        self._crm = crm
        self._verifier = verifier

    async def handle(self, request: Request) -> JSONResponse:
        subject = self._subject(request)
        if subject is None:
            return _error(401, "unauthorized", "A valid Rollout token is required.", {"WWW-Authenticate": "Bearer"})
        try:
            change = _parse(await request.body())
            return JSONResponse(self._apply(subject, change))
        except CrmError as refused:
            return _error(_STATUS.get(refused.code, 400), refused.code, refused.message)

    def _subject(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        access = self._verifier.verify(token) if scheme.lower() == "bearer" else None
        return access.subject if access is not None else None

    def _apply(self, subject: str, change: _Change) -> dict[str, Any]:
        account = self._account(subject, change.credential_id)
        person = self._person(subject, account.id, change.person)
        task = self._task(subject, account.id, person.id, change.complete_task) if change.complete_task else None
        crm = self._crm
        if change.remove:
            crm.remove_person(subject, account.id, person.id)
        if change.fields:
            crm.update_person(subject, account.id, person.id, **change.fields)
        if task is not None:
            crm.complete_task(subject, account.id, task.id)
        if change.add_note is not None:
            crm.create_note(subject, account.id, person_id=person.id, content=change.add_note)
        # After a removal the person is answered as they last were, with nothing left attached to them.
        return {
            "person": person.to_wire(),
            "notes": [] if change.remove else [n.to_wire() for n in crm.notes_of(subject, account.id, person.id)],
            "tasks": [] if change.remove else [t.to_wire() for t in crm.tasks_of(subject, account.id, person.id)],
            "removed": change.remove,
            "credential": account.to_wire(),
        }

    def _account(self, subject: str, credential_id: str | None) -> CrmAccount:
        accounts = self._crm.accounts(subject)
        if credential_id is None:
            if not accounts:
                raise NotFound("No CRM is connected for this user.")
            return accounts[0]
        account = self._crm.account(subject, credential_id)
        if account is None:
            raise NotFound(f"No CRM account '{credential_id}'.")
        return account

    def _person(self, subject: str, credential_id: str, wanted: str) -> CrmPerson:
        if "@" in wanted:
            found = self._crm.find_people(subject, credential_id, email=wanted)
        else:
            found = self._crm.find_people(subject, credential_id, person_id=wanted)
        if len(found) != 1:
            raise NotFound(f"No person matches '{wanted}'.")
        return found[0]

    def _task(self, subject: str, credential_id: str, person_id: str, wanted: str) -> CrmTask:
        """The person's task with that id, else their open task with exactly that title (the first, if several)."""
        tasks = self._crm.tasks_of(subject, credential_id, person_id)
        by_id = next((t for t in tasks if t.id == wanted), None)
        if by_id is not None:
            return by_id
        titled = [t for t in tasks if t.title == wanted]
        if not titled:
            raise NotFound(f"No task of this person matches '{wanted}'.")
        return next((t for t in titled if t.status != "completed"), titled[0])


def _parse(raw: bytes) -> _Change:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.")
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise InvalidInput(f"Unknown keys: {', '.join(unknown)}.")
    credential_id = _optional_str(body, "credentialId")
    person = _optional_str(body, "person")
    if not person or not person.strip():
        raise InvalidInput("'person' (an id or an email) is required.")
    fields = _fields(body.get("set"))
    complete_task = _optional_str(body, "completeTask")
    add_note = _optional_str(body, "addNote")
    if add_note is not None and not add_note.strip():
        raise InvalidInput("'addNote' must not be empty.")
    remove = body.get("remove", False)
    if not isinstance(remove, bool):
        raise InvalidInput("'remove' must be true or false.")
    if remove and (fields or complete_task or add_note is not None):
        raise InvalidInput("'remove' can't be combined with other changes.")
    if not (remove or fields or complete_task or add_note is not None):
        raise InvalidInput("Nothing to change: give set, completeTask, addNote or remove.")
    return _Change(credential_id, person.strip(), fields, complete_task, add_note, remove)


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"'{key}' must be a string.")
    return value


def _fields(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("'set' must be an object.")
    unknown = sorted(set(value) - set(SETTABLE_FIELDS))
    if unknown:
        raise InvalidInput(f"'set' can change only {', '.join(SETTABLE_FIELDS)}, not {', '.join(unknown)}.")
    if not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput("Values in 'set' must be strings.")
    return dict(value)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)
