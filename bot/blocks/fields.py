"""block_id/action_id of every modal input (each input uses the same string for both), and reading them back.

Handlers read submissions with read_values(view["state"], ...) rather than walking the payload themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.ids import Action

NOTE_TEXT = "note_text"
TASK_TITLE = "task_title"
TASK_DUE = "task_due"
TASK_DESCRIPTION = "task_description"
PERSON_FIRST = "person_first"
PERSON_LAST = "person_last"
PERSON_EMAIL = "person_email"
PERSON_TITLE = "person_title"
PERSON_COMPANY = "person_company"
LOOKUP_QUERY = "lookup_query"
# The external select's action_id is what Slack sends with block_suggestion requests, so it lives in the registry.
PERSON_SELECT = Action.PERSON_SELECT.value

APPROVAL_FIELD_PREFIX = "approval_field:"


def approval_field(name: str) -> str:
    """block_id/action_id of the input editing one argument of a pending write."""
    return APPROVAL_FIELD_PREFIX + name


def _submitted(entry: Mapping[str, Any]) -> str | None:
    """The value of one input, whatever its element type; None when empty."""
    kind = entry.get("type")
    if kind == "datepicker":
        raw = entry.get("selected_date")
    elif kind in ("static_select", "external_select", "radio_buttons"):
        option = entry.get("selected_option")
        raw = option.get("value") if isinstance(option, Mapping) else None
    else:
        raw = entry.get("value")
    if not isinstance(raw, str):
        return None
    stripped = raw.strip()
    return stripped or None


def read_values(view_state: Mapping[str, Any], *ids: str) -> dict[str, str | None]:
    """Submitted values keyed by id: the ids asked for (None when absent or empty), or every input when none are.

    view_state is `view["state"]` from a view_submission payload: {"values": {block_id: {action_id: {...}}}}.
    """
    values = view_state.get("values")
    blocks: Mapping[str, Any] = values if isinstance(values, Mapping) else {}
    found: dict[str, str | None] = {}
    for block_id, inputs in blocks.items():
        if not isinstance(inputs, Mapping):
            continue
        entry = inputs.get(block_id)
        if isinstance(entry, Mapping):
            found[block_id] = _submitted(entry)
    if not ids:
        return found
    return {wanted: found.get(wanted) for wanted in ids}


def read_approval_fields(view_state: Mapping[str, Any]) -> dict[str, str]:
    """The edited arguments of an approval_edit_modal submission, by argument name (empty inputs give "")."""
    return {
        block_id.removeprefix(APPROVAL_FIELD_PREFIX): value or ""
        for block_id, value in read_values(view_state).items()
        if block_id.startswith(APPROVAL_FIELD_PREFIX)
    }
