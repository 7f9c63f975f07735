"""Turning Rollout tool results into outcomes: tolerant of field spellings, and CRM text is only ever data."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import mcp_types as types

from bot import redaction
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Credential,
    Failure,
    FailureReason,
    Matches,
    Note,
    NotFound,
    Person,
    PersonOverview,
    PersonSummary,
    Task,
    Unrecognised,
)

_NO_CREDENTIALS_CODES = frozenset(
    {"no_credentials", "no_credential", "credentials_required", "no_connected_credentials"}
)
MAX_DETAIL = 300


def payload(result: types.CallToolResult) -> dict[str, Any]:
    """The JSON object a tool answered with: structured content if given, else the first text block parsed."""
    if isinstance(result.structured_content, dict) and result.structured_content:
        return result.structured_content
    text = result_text(result)
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"message": text}
    return parsed if isinstance(parsed, dict) else {"result": parsed}


def result_text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def scrub(text: str) -> str:
    """Remove anything token-like, so an error text is safe for a log line or a Slack message."""
    return redaction.scrub(text)[:MAX_DETAIL]


def tool_error(
    result: types.CallToolResult, query: str = "", *, rollout_origin: str = ""
) -> ChooseCredential | ConnectNeeded | NotFound | Failure:
    """Map an `isError` result. Rollout's codes first; its prose (the documented behaviour) as a fallback.

    A credentials link counts only as a signal, and only on Rollout's own origin: an error that echoes what the user
    typed (or what a CRM record says) must never turn someone else's link into our "Connect your CRM" button.
    """
    body = payload(result)
    code = str(body.get("error") or body.get("code") or "").lower()
    message = str(body.get("message", "")) or result_text(result)
    if code in _NO_CREDENTIALS_CODES:
        return ConnectNeeded()
    if code == "credential_required" or (not code and "credentialid" in message.lower()):
        return ChooseCredential(credentials(body.get("credentials")))
    if code == "invalid_credential":
        return Failure(FailureReason.CREDENTIAL_GONE, scrub(message))
    if code == "not_found" or (not code and "not found" in message.lower()):
        return NotFound(query)
    if says_no_credentials(result, rollout_origin):
        return ConnectNeeded()
    return Failure(FailureReason.INVALID_INPUT, scrub(message))


def says_no_credentials(result: types.CallToolResult, rollout_origin: str) -> bool:
    """Whether Rollout says no CRM is connected, wherever it says it: an explicit code in any field, or a link to
    Rollout's own credential manager anywhere in the text or structured content."""
    marker = f"{rollout_origin.rstrip('/')}/mcp/credentials/" if rollout_origin else None
    text = result_text(result)
    if marker and marker in text:
        return True
    strings = [] if result.structured_content is None else _strings(result.structured_content)
    with contextlib.suppress(ValueError):  # prose: only the link could tell, and it is not there
        strings += _strings(json.loads(text))
    return any((marker and marker in value) or value.lower() in _NO_CREDENTIALS_CODES for value in strings)


def credentials(raw: Any) -> tuple[Credential, ...]:
    if not isinstance(raw, list):
        return ()
    found = []
    for item in raw:
        if not isinstance(item, dict) or item.get("isValid") is False or not item.get("id"):
            continue
        provider = str(item.get("appKey") or item.get("provider") or item.get("app") or "crm")
        label = str(item.get("label") or item.get("name") or provider)
        found.append(Credential(id=str(item["id"]), provider=provider, label=label))
    return tuple(found)


def overview(body: dict[str, Any], query: str) -> PersonOverview | Matches | NotFound | Unrecognised:
    if isinstance(body.get("matches"), list):
        people = tuple(summary(m) for m in body["matches"] if isinstance(m, dict) and m.get("id"))
        return Matches(query, people) if people else NotFound(query)
    raw = body.get("person")
    if "person" in body and not raw:
        return NotFound(query)
    if not isinstance(raw, dict) or not raw.get("id"):
        # A shape this parser doesn't know is not "no one matches": show what Rollout said instead.
        return Unrecognised(query, _as_text(body))
    person = Person(
        id=str(raw["id"]),
        name=_name(raw),
        email=_str(raw.get("email")),
        title=_str(raw.get("title") or raw.get("jobTitle")),
        company=_str(raw.get("company") or raw.get("companyName")),
        phone=_str(raw.get("phone")),
        owner=_str(raw.get("owner")),
        stage=_str(raw.get("stage") or raw.get("lifecycleStage")),
        last_activity=_str(raw.get("lastActivityAt") or raw.get("lastActivity")),
        url=_str(raw.get("url")),
        notes=tuple(_note(n) for n in body.get("notes") or () if isinstance(n, dict)),
        tasks=tuple(_task(t) for t in body.get("tasks") or () if isinstance(t, dict)),
    )
    cred = credentials([body["credential"]]) if isinstance(body.get("credential"), dict) else ()
    return PersonOverview(person, cred[0] if cred else None)


def summary(raw: dict[str, Any]) -> PersonSummary:
    return PersonSummary(
        id=str(raw["id"]),
        name=_name(raw),
        email=_str(raw.get("email")),
        title=_str(raw.get("title")),
        company=_str(raw.get("company")),
    )


def _note(raw: dict[str, Any]) -> Note:
    return Note(
        id=str(raw.get("id", "")),
        content=str(raw.get("content") or raw.get("body") or ""),
        created_at=_str(raw.get("createdAt")),
        author=_str(raw.get("author")),
    )


def _task(raw: dict[str, Any]) -> Task:
    return Task(
        id=str(raw.get("id", "")),
        title=str(raw.get("title") or raw.get("subject") or ""),
        due_date=_str(raw.get("dueDate")),
        status=_str(raw.get("status")),
        description=_str(raw.get("description")),
    )


def _name(raw: dict[str, Any]) -> str:
    name = raw.get("name") or " ".join(str(raw.get(k) or "") for k in ("firstName", "lastName")).strip()
    return str(name or raw.get("email") or "Unnamed person")


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _strings(node: Any) -> list[str]:
    """Every string value in a JSON document, however deep."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def _as_text(body: dict[str, Any]) -> str:
    if set(body) == {"message"}:  # prose, wrapped by payload()
        return str(body["message"])
    return json.dumps(body, ensure_ascii=False, indent=2)
