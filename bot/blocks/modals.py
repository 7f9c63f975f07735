"""Modals for writing to the CRM. Inputs use the ids in bot.blocks.fields; handlers read them with read_values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    EmailInputElement,
    ExternalDataSelectElement,
    InputBlock,
    PlainTextInputElement,
)
from slack_sdk.models.views import View as SlackView

from bot.blocks import fields
from bot.blocks.elements import context, pt, section
from bot.blocks.text import (
    INPUT_LABEL,
    MODAL_BUTTON,
    MODAL_TITLE,
    PLACEHOLDER,
    PLAIN_TEXT_INPUT,
    clean,
    escape_inline,
    escape_mrkdwn,
    is_plausible_email,
    safe_url,
    slack_len,
    slack_to_plain,
    truncate_mrkdwn,
    truncate_plain,
)
from bot.blocks.values import check_metadata, encode_metadata
from bot.ids import View

TASK_TITLE_MAX = 255
NAME_MAX = 100
EMAIL_MAX = 254
JOB_TITLE_MAX = 150
COMPANY_MAX = 150
QUERY_MAX = 200
ERROR_MESSAGE_MAX = 300
_PERSON_SELECT_MIN_QUERY = 2


def _modal(
    callback: View, title: str, submit: str, blocks: list[Block], private_metadata: str | None = None
) -> SlackView:
    return SlackView(
        type="modal",
        callback_id=callback.value,
        title=pt(title, MODAL_TITLE),
        submit=pt(submit, MODAL_BUTTON),
        close=pt("Cancel", MODAL_BUTTON),
        private_metadata=check_metadata(private_metadata) if private_metadata is not None else None,
        blocks=blocks,
    )


def _text_input(
    field_id: str,
    label: str,
    *,
    max_length: int,
    initial: str | None = None,
    multiline: bool = False,
    optional: bool = False,
    placeholder: str | None = None,
) -> InputBlock:
    # An initial value longer than max_length would be rejected by Slack, so it is cut to fit.
    prefill = truncate_plain(clean(initial, single_line=not multiline), max_length) or None
    element = PlainTextInputElement(
        action_id=field_id,
        initial_value=prefill,
        multiline=multiline,
        max_length=max_length,
        placeholder=pt(placeholder, PLACEHOLDER) if placeholder else None,
    )
    return InputBlock(block_id=field_id, label=pt(label, INPUT_LABEL), element=element, optional=optional)


def _error_blocks(error: str | None) -> list[Block]:
    message = escape_mrkdwn(error)
    return [section(f"⚠️ {message}")] if message else []


def _for_person(person_name: str) -> Block:
    name = truncate_mrkdwn(escape_inline(person_name), 500) or "this person"
    return context(f"For *{name}*")


def _metadata(private_metadata: str | None, person_id: str, credential_id: str | None) -> str:
    return private_metadata if private_metadata is not None else encode_metadata(p=person_id, c=credential_id)


def _note_input(initial_text: str) -> InputBlock:
    return _text_input(
        fields.NOTE_TEXT,
        "Note",
        max_length=PLAIN_TEXT_INPUT,
        initial=initial_text,
        multiline=True,
        placeholder="What happened, what's next…",
    )


def _iso_date(value: str | date | None) -> str | None:
    if isinstance(value, date):
        return value.isoformat()
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return None


def _task_inputs(title: str, due: str | date | None, description: str) -> list[Block]:
    due_picker = DatePickerElement(
        action_id=fields.TASK_DUE,
        initial_date=_iso_date(due),
        placeholder=pt("No due date", PLACEHOLDER),
    )
    return [
        _text_input(fields.TASK_TITLE, "Title", max_length=TASK_TITLE_MAX, initial=title, placeholder="Call back"),
        InputBlock(block_id=fields.TASK_DUE, label=pt("Due date", INPUT_LABEL), element=due_picker, optional=True),
        _text_input(
            fields.TASK_DESCRIPTION,
            "Description",
            max_length=PLAIN_TEXT_INPUT,
            initial=description,
            multiline=True,
            optional=True,
        ),
    ]


def note_modal(
    person_id: str,
    person_name: str,
    credential_id: str | None,
    *,
    private_metadata: str | None = None,
    initial_text: str = "",
    error: str | None = None,
) -> SlackView:
    """Add a note to a person. private_metadata defaults to {"p": person_id, "c": credential_id}.

    error shows a banner on top: for re-opening the modal after the CRM refused the note (field-level problems go
    back as validation_errors instead).
    """
    blocks = [*_error_blocks(error), _for_person(person_name), _note_input(initial_text)]
    metadata = _metadata(private_metadata, person_id, credential_id)
    return _modal(View.NOTE_SUBMIT, "Add a note", "Save note", blocks, metadata)


def task_modal(
    person_id: str,
    person_name: str,
    credential_id: str | None,
    *,
    private_metadata: str | None = None,
    initial_title: str = "",
    initial_due: str | date | None = None,
    initial_description: str = "",
    error: str | None = None,
) -> SlackView:
    """Create a task for a person: title required, due date and description optional."""
    blocks = [
        *_error_blocks(error),
        _for_person(person_name),
        *_task_inputs(initial_title, initial_due, initial_description),
    ]
    metadata = _metadata(private_metadata, person_id, credential_id)
    return _modal(View.TASK_SUBMIT, "Create a task", "Create task", blocks, metadata)


def person_modal(
    initial: Mapping[str, str | None] | None = None,
    *,
    private_metadata: str | None = None,
    error: str | None = None,
) -> SlackView:
    """Create a person. initial is keyed by field id (fields.PERSON_FIRST, ...), as read_values returns them."""
    prefill = dict(initial or {})
    email = clean(prefill.get(fields.PERSON_EMAIL), single_line=True)
    email_element = EmailInputElement(
        action_id=fields.PERSON_EMAIL,
        # Slack may refuse a view whose email input starts with something that is not an address.
        initial_value=email if is_plausible_email(email) else None,
        placeholder=pt("ada@example.com", PLACEHOLDER),
    )
    blocks: list[Block] = [
        *_error_blocks(error),
        _text_input(fields.PERSON_FIRST, "First name", max_length=NAME_MAX, initial=prefill.get(fields.PERSON_FIRST)),
        _text_input(
            fields.PERSON_LAST, "Last name", max_length=NAME_MAX, initial=prefill.get(fields.PERSON_LAST), optional=True
        ),
        InputBlock(block_id=fields.PERSON_EMAIL, label=pt("Email", INPUT_LABEL), element=email_element, optional=True),
        _text_input(
            fields.PERSON_TITLE,
            "Job title",
            max_length=JOB_TITLE_MAX,
            initial=prefill.get(fields.PERSON_TITLE),
            optional=True,
        ),
        _text_input(
            fields.PERSON_COMPANY,
            "Company",
            max_length=COMPANY_MAX,
            initial=prefill.get(fields.PERSON_COMPANY),
            optional=True,
        ),
    ]
    return _modal(View.PERSON_SUBMIT, "Create a person", "Create", blocks, private_metadata)


def lookup_modal(*, initial_query: str = "", private_metadata: str | None = None) -> SlackView:
    query = _text_input(
        fields.LOOKUP_QUERY, "Name or email", max_length=QUERY_MAX, initial=initial_query, placeholder="ada@example.com"
    )
    return _modal(View.LOOKUP_SUBMIT, "Look up a person", "Look up", [query], private_metadata)


def _prefill_from_message(text: str, permalink: str) -> str:
    """The message as plain text plus where it came from, cut to fit an input; the link survives the cut."""
    body = slack_to_plain(text)
    link = safe_url(permalink)
    source = f"\n\nFrom Slack: {link}" if link else ""
    if slack_len(source) >= PLAIN_TEXT_INPUT // 2:
        source = ""
    return truncate_plain(body, PLAIN_TEXT_INPUT - slack_len(source)) + source


def message_to_crm_modal(kind: Literal["note", "task"], text: str, permalink: str, private_metadata: str) -> SlackView:
    """Save a Slack message as a note or task on a person picked from the CRM.

    Submits to the same callbacks as note_modal/task_modal; the person comes from fields.PERSON_SELECT instead of
    private_metadata.
    """
    picker = ExternalDataSelectElement(
        action_id=fields.PERSON_SELECT,
        placeholder=pt("Search by name or email", PLACEHOLDER),
        min_query_length=_PERSON_SELECT_MIN_QUERY,
    )
    person: Block = InputBlock(block_id=fields.PERSON_SELECT, label=pt("Person", INPUT_LABEL), element=picker)
    prefill = _prefill_from_message(text, permalink)
    if kind == "note":
        return _modal(View.NOTE_SUBMIT, "Save as note", "Save note", [person, _note_input(prefill)], private_metadata)
    first_line = next((line for line in slack_to_plain(text).splitlines() if line.strip()), "")
    blocks = [person, *_task_inputs(first_line, None, prefill)]
    return _modal(View.TASK_SUBMIT, "Create a task", "Create task", blocks, private_metadata)


def validation_errors(errors: Mapping[str, str] | None = None, /, **by_block_id: str) -> dict[str, Any]:
    """The view_submission response that shows a message under each named input."""
    merged = {**(errors or {}), **by_block_id}
    return {
        "response_action": "errors",
        "errors": {
            block_id: truncate_plain(clean(message, single_line=True), ERROR_MESSAGE_MAX) or "Check this field."
            for block_id, message in merged.items()
        },
    }
