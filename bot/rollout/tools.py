"""Finding Rollout's tools and their parameters from `list_tools`, instead of assuming fixed names or schemas.

Safety comes first: a tool is a read only when the server says so (`readOnlyHint`) or its name matches a read capability
word for word and nothing marks it as changing data. Every other tool, including any the bot has never seen, is a
write and waits for the requester's click.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import mcp_types as types


class Capability(StrEnum):
    LIST_CREDENTIALS = "list_credentials"
    PERSON_OVERVIEW = "person_overview"
    CREATE_PERSON = "create_person"
    CREATE_NOTE = "create_note"
    CREATE_TASK = "create_task"


READ_CAPABILITIES = frozenset({Capability.LIST_CREDENTIALS, Capability.PERSON_OVERVIEW})
WRITE_CAPABILITIES = frozenset({Capability.CREATE_PERSON, Capability.CREATE_NOTE, Capability.CREATE_TASK})


@dataclass(frozen=True, slots=True)
class _Hint:
    nouns: frozenset[str]  # one of these words must be in the name
    verbs: frozenset[str]  # and one of these
    strong: frozenset[str]  # words that settle a tie between several fitting tools


_HINTS: dict[Capability, _Hint] = {
    Capability.LIST_CREDENTIALS: _Hint(
        frozenset({"credential", "credentials"}), frozenset({"list", "get"}), frozenset({"list"})
    ),
    Capability.PERSON_OVERVIEW: _Hint(
        frozenset({"person", "people", "contact", "contacts"}),
        frozenset({"overview", "get", "retrieve", "find", "lookup", "search"}),
        frozenset({"overview"}),
    ),
    Capability.CREATE_PERSON: _Hint(
        frozenset({"person", "contact"}), frozenset({"create", "add", "new"}), frozenset({"create"})
    ),
    Capability.CREATE_NOTE: _Hint(frozenset({"note"}), frozenset({"create", "add", "new"}), frozenset({"create"})),
    Capability.CREATE_TASK: _Hint(frozenset({"task"}), frozenset({"create", "add", "new"}), frozenset({"create"})),
}

# A name with any of these words changes something, whatever else it says ("get_and_delete_person").
_CHANGING_WORDS = frozenset(
    {
        "add", "archive", "assign", "cancel", "clear", "close", "create", "delete", "destroy", "disconnect",
        "drop", "edit", "erase", "forget", "insert", "merge", "modify", "move", "new", "patch", "post", "purge",
        "put", "remove", "replace", "reset", "revoke", "send", "set", "update", "upsert", "write",
    }
)  # fmt: skip

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

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_|$)|[A-Z]?[a-z]+|\d+")


def words(name: str) -> frozenset[str]:
    """The whole words of a tool name, lower case: snake_case, camelCase, kebab-case, dots and spaces all split."""
    return frozenset(match.group(0).lower() for match in _WORD.finditer(name))


def is_read(tool: types.Tool) -> bool:
    """Safe to call without the user's click."""
    hints = tool.annotations
    if hints is not None and hints.read_only_hint is True:
        return True
    if hints is not None and (hints.destructive_hint is True or hints.read_only_hint is False):
        return False
    if words(tool.name) & _CHANGING_WORDS:
        return False
    return any(_fits(tool.name, _HINTS[capability]) for capability in READ_CAPABILITIES)


@dataclass(frozen=True, slots=True)
class ToolMap:
    """What the bot makes of one tool list."""

    capabilities: dict[Capability, str]  # capability → the tool that serves it
    ambiguous: dict[Capability, tuple[str, ...]]  # several tools fit and no setting chose: none is used
    reads: frozenset[str]  # tools safe to call without a click; every other tool is a write
    missing: tuple[Capability, ...]  # capabilities no tool serves (ambiguous ones included)

    def writes(self, tools: Sequence[types.Tool]) -> frozenset[str]:
        return frozenset(t.name for t in tools if t.name not in self.reads)


def classify(tools: Sequence[types.Tool], overrides: Mapping[Capability, str | None]) -> ToolMap:
    reads = frozenset(t.name for t in tools if is_read(t))
    chosen: dict[Capability, str] = {}
    ambiguous: dict[Capability, tuple[str, ...]] = {}
    for capability, hint in _HINTS.items():
        override = overrides.get(capability)
        if override:
            # The admin's word settles it, but a read capability never runs a tool that may change data.
            if any(t.name == override for t in tools) and (capability not in READ_CAPABILITIES or override in reads):
                chosen[capability] = override
            continue
        fitting = [t for t in tools if _fits(t.name, hint) and _agrees(t, capability, reads)]
        best = _best(fitting, hint)
        if len(best) == 1:
            chosen[capability] = best[0].name
        elif best:
            ambiguous[capability] = tuple(t.name for t in best)
    missing = tuple(c for c in Capability if c not in chosen)
    return ToolMap(chosen, ambiguous, reads, missing)


def _fits(name: str, hint: _Hint) -> bool:
    found = words(name)
    return bool(found & hint.nouns and found & hint.verbs)


def _agrees(tool: types.Tool, capability: Capability, reads: frozenset[str]) -> bool:
    """Annotations and words never contradict the capability: reads stay reads, creates never destroy."""
    if capability in READ_CAPABILITIES:
        return tool.name in reads
    hints = tool.annotations
    return hints is None or (hints.read_only_hint is not True and hints.destructive_hint is not True)


def _best(fitting: list[types.Tool], hint: _Hint) -> list[types.Tool]:
    """Narrow several fitting tools: annotated ones first, then names with the capability's telling word."""
    if len(fitting) <= 1:
        return fitting
    annotated = [t for t in fitting if t.annotations is not None] or fitting
    return [t for t in annotated if words(t.name) & hint.strong] or annotated


def argument_mapping(tool: types.Tool) -> dict[str, str]:
    """Our argument names → the tool's own spelling, for each one its schema takes."""
    mapping: dict[str, str] = {}
    for canonical in _PARAM_SYNONYMS:
        spelling = accepts(tool, canonical)
        if spelling is not None:
            mapping[canonical] = spelling
    return mapping


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
