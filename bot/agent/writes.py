"""How a write the model proposed reads on its approval card: "Create task “Call Ada” due 2026-12-04 for Ada Lovelace".

The words come from the arguments the tool will really receive, never from the model's prose, so the card shows what
will be written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.agent.history import Message, blocks_of
from bot.commands import PersonRef
from bot.rollout.tools import Capability

_LABELS: dict[Capability, str] = {
    Capability.CREATE_TASK: "Create a task",
    Capability.CREATE_NOTE: "Add a note",
    Capability.CREATE_PERSON: "Create a person",
}
_PERSON_KEYS = ("personId", "person_id", "contactId")
# Stored beside a proposed write's arguments, never sent to the tool: what the card said when it was proposed (the kind
# of write, decided with the server's own tool list, and who it is for, read once), so a rebuilt card says the same.
PROPOSAL_KEY = "__proposed"
SOMEONE = "someone in your CRM"  # when the CRM could not say who: never the raw id
_ID_KEY = re.compile(r"(^id$|Id$|_id$)")
_PREVIEW = 80


@dataclass(frozen=True, slots=True)
class WhoFor:
    """The person a write is for, as the card shows them."""

    name: str
    email: str | None = None
    account: str | None = None  # the CRM account they are in: "Acme (hubspot)"


@dataclass(frozen=True, slots=True)
class Proposed:
    """What was decided when the write was proposed, kept with its arguments."""

    capability: Capability | None
    who: WhoFor | None


@dataclass(frozen=True, slots=True)
class WriteDescription:
    label: str  # "Create a task"
    summary: str  # one line: what, for whom
    details: tuple[tuple[str, str], ...]  # argument rows shown under it


def describe(
    capability: Capability | None, tool_name: str, arguments: Mapping[str, Any], who: WhoFor | None
) -> WriteDescription:
    """The card's words for `arguments` (stored or not: what is kept beside them is left out)."""
    arguments = tool_arguments(arguments)
    person = (who.name if who else SOMEONE) if person_of(arguments) else None
    for_whom = f" for {person}" if person else ""
    if capability is Capability.CREATE_TASK:
        title = _text(arguments, "title", "subject")
        due = _text(arguments, "dueDate", "due_date", "due")
        summary = f"Create task “{_short(title)}”" + (f" due {due}" if due else "") + for_whom
    elif capability is Capability.CREATE_NOTE:
        content = _text(arguments, "content", "body", "text", "note")
        summary = f"Add note “{_short(content)}”{for_whom}"
    elif capability is Capability.CREATE_PERSON:
        name = " ".join(filter(None, (_text(arguments, "firstName"), _text(arguments, "lastName"))))
        email = _text(arguments, "email")
        summary = f"Create person {name or 'without a name'}" + (f" ({email})" if email else "")
    else:
        summary = f"Run {tool_name}{for_whom}"
    label = _LABELS.get(capability, f"Run {tool_name}") if capability else f"Run {tool_name}"
    rows = [(_humanise(key), _display(value)) for key, value in arguments.items() if not _ID_KEY.search(key)]
    if person:
        about = [("Person", person)]
        if who is not None and who.email:
            about.append(("Email", who.email))
        if who is not None and who.account:
            about.append(("CRM account", who.account))
        rows[:0] = about
    return WriteDescription(label, summary, tuple(rows))


def with_proposal(arguments: Mapping[str, Any], proposed: Proposed) -> dict[str, Any]:
    """The arguments to store: the tool's own, and what the card decided beside them (replacing any the model sent)."""
    who = proposed.who
    kept = {
        "capability": proposed.capability.value if proposed.capability else None,
        "who": None if who is None else {"name": who.name, "email": who.email, "account": who.account},
    }
    return {**tool_arguments(arguments), PROPOSAL_KEY: kept}


def tool_arguments(stored: Mapping[str, Any]) -> dict[str, Any]:
    """What the tool receives: the stored arguments without what the card keeps beside them."""
    return {key: value for key, value in stored.items() if key != PROPOSAL_KEY}


def proposal_of(stored: Mapping[str, Any]) -> Proposed | None:
    """What was decided at proposal time, or None for an approval stored before it was kept."""
    kept = stored.get(PROPOSAL_KEY)
    if not isinstance(kept, Mapping):
        return None
    capability = kept.get("capability")
    who = kept.get("who")
    return Proposed(
        Capability(capability) if capability in set(Capability) else None,
        WhoFor(
            str(who.get("name") or SOMEONE),
            _optional(who.get("email")),
            _optional(who.get("account")),
        )
        if isinstance(who, Mapping)
        else None,
    )


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def editable_fields(arguments: Mapping[str, Any]) -> dict[str, str]:
    """The string arguments a person may change before approving; ids stay as the lookup found them."""
    return {
        key: value
        for key, value in tool_arguments(arguments).items()
        if isinstance(value, str) and not _ID_KEY.search(key)
    }


def apply_edits(arguments: Mapping[str, Any], edits: Mapping[str, str]) -> dict[str, Any]:
    """Edited values replace editable ones; a field left empty is left out (the CRM then applies its default)."""
    editable = editable_fields(arguments)
    updated = dict(arguments)
    for key, value in edits.items():
        if key not in editable:
            continue
        if value.strip():
            updated[key] = value.strip()
        else:
            updated.pop(key, None)
    return updated


def people_seen(messages: Sequence[Message]) -> dict[str, str]:
    """Person id → name, from every person or match list the tools returned in this conversation."""
    return {person_id: person.name for person_id, person in contacts_seen(messages).items() if person.name}


def contacts_seen(messages: Sequence[Message]) -> dict[str, PersonRef]:
    """Person id → who, with the email when the tools showed it: enough to find them again in another account."""
    found: dict[str, PersonRef] = {}
    for message in messages:
        for block in blocks_of(message):
            if block.get("type") != "tool_result" or block.get("is_error"):
                continue
            for body in _json_bodies(block.get("content")):
                _collect_people(body, found)
    return found


def person_of(arguments: Mapping[str, Any]) -> tuple[str, str] | None:
    """The argument naming the person a write is about, and its value."""
    return next(((key, str(arguments[key])) for key in _PERSON_KEYS if arguments.get(key)), None)


def _json_bodies(content: Any) -> list[Any]:
    texts = [content] if isinstance(content, str) else []
    if isinstance(content, list):
        texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
    bodies = []
    for text in texts:
        try:
            bodies.append(json.loads(text))
        except ValueError:
            continue
    return bodies


def _collect_people(body: Any, found: dict[str, PersonRef]) -> None:
    if not isinstance(body, dict):
        return
    candidates = [body.get("person")]
    if isinstance(body.get("matches"), list):
        candidates += body["matches"]
    for person in candidates:
        if isinstance(person, dict) and person.get("id"):
            name = person.get("name") or " ".join(str(person.get(k) or "") for k in ("firstName", "lastName")).strip()
            email = person.get("email")
            found[str(person["id"])] = PersonRef(
                str(person["id"]), str(name or ""), str(email) if isinstance(email, str) and email else None
            )


def _text(arguments: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = arguments.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return ""


def _short(text: str) -> str:
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


def _display(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _humanise(key: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").strip()
    return spaced[:1].upper() + spaced[1:].lower() if spaced else "Value"
