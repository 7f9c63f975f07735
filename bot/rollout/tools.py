"""Finding Rollout's tools and their parameters from `list_tools`, instead of assuming fixed names or schemas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import mcp_types as types


class Capability(StrEnum):
    LIST_CREDENTIALS = "list_credentials"
    PERSON_OVERVIEW = "person_overview"
    CREATE_PERSON = "create_person"
    CREATE_NOTE = "create_note"
    CREATE_TASK = "create_task"


WRITE_CAPABILITIES = frozenset({Capability.CREATE_PERSON, Capability.CREATE_NOTE, Capability.CREATE_TASK})

# Words a tool name must contain (any of each group) to serve a capability, for when no setting names it.
_NAME_HINTS: dict[Capability, tuple[tuple[str, ...], ...]] = {
    Capability.LIST_CREDENTIALS: (("credential",), ("list", "get")),
    Capability.PERSON_OVERVIEW: (("person", "people", "contact"), ("overview", "get", "retrieve", "find")),
    Capability.CREATE_PERSON: (("person", "people", "contact"), ("create", "add")),
    Capability.CREATE_NOTE: (("note",), ("create", "add")),
    Capability.CREATE_TASK: (("task",), ("create", "add")),
}

# Our names for arguments → the spellings a CRM API may use, most likely first.
_PARAM_SYNONYMS: dict[str, tuple[str, ...]] = {
    "credential_id": ("credentialId", "credential_id"),
    "person_id": ("personId", "person_id", "contactId", "id"),
    "email": ("email", "emailAddress"),
    "query": ("query", "search", "q", "name"),
    "first_name": ("firstName", "first_name"),
    "last_name": ("lastName", "last_name"),
    "title": ("title", "jobTitle", "subject"),
    "company": ("company", "companyName", "organization"),
    "phone": ("phone", "phoneNumber"),
    "content": ("content", "body", "text", "note"),
    "due_date": ("dueDate", "due_date", "due"),
    "description": ("description", "details", "body"),
}


def resolve_tools(tools: Sequence[types.Tool], overrides: Mapping[Capability, str | None]) -> dict[Capability, str]:
    names = [t.name for t in tools]
    resolved: dict[Capability, str] = {}
    for capability, hints in _NAME_HINTS.items():
        override = overrides.get(capability)
        if override:
            if override in names:
                resolved[capability] = override
            continue
        for name in names:
            lowered = name.lower()
            if all(any(word in lowered for word in group) for group in hints) and name not in resolved.values():
                resolved[capability] = name
                break
    return resolved


def accepts(tool: types.Tool, canonical: str) -> str | None:
    """The tool's own spelling of one of our argument names, if its schema takes it."""
    properties = (tool.input_schema or {}).get("properties", {})
    return next((spelling for spelling in _PARAM_SYNONYMS[canonical] if spelling in properties), None)


def build_arguments(tool: types.Tool, values: Mapping[str, Any]) -> dict[str, Any]:
    """Map our argument names onto the tool's schema; leave out what is None or what the tool doesn't take."""
    arguments: dict[str, Any] = {}
    for canonical, value in values.items():
        if value is None:
            continue
        spelling = accepts(tool, canonical)
        if spelling is not None:
            arguments[spelling] = value
    return arguments
