from __future__ import annotations

import json
from datetime import date
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.blocks import (
    fields,
    lookup_modal,
    message_to_crm_modal,
    note_modal,
    person_modal,
    task_modal,
    validation_errors,
)
from bot.ids import View

from . import slack_checks as check
from .strategies import FAST, hostile_text, ids


def _inputs(view: dict) -> dict[str, dict]:
    return {block["block_id"]: block for block in view["blocks"] if block["type"] == "input"}


def test_note_modal_has_one_multiline_input_and_carries_the_ids() -> None:
    view = check.view(note_modal("per_1", "Ada Lovelace", "cred_1", initial_text="Hello"))

    assert view["callback_id"] == View.NOTE_SUBMIT
    assert json.loads(view["private_metadata"]) == {"p": "per_1", "c": "cred_1"}
    [note] = _inputs(view).values()
    assert note["block_id"] == note["element"]["action_id"] == fields.NOTE_TEXT
    assert note["element"]["multiline"] is True
    assert note["element"]["initial_value"] == "Hello"
    assert "optional" not in note or note["optional"] is False
    assert "For *Ada Lovelace*" in check.all_text(view["blocks"])


def test_note_modal_uses_given_metadata_and_shows_an_error_banner() -> None:
    view = check.view(note_modal("per_1", "Ada", None, private_metadata='{"x":"1"}', error="CRM said <no>"))
    assert view["private_metadata"] == '{"x":"1"}'
    assert view["blocks"][0]["text"]["text"] == "⚠️ CRM said &lt;no&gt;"


def test_note_modal_refuses_oversized_metadata() -> None:
    with pytest.raises(ValueError, match="private_metadata"):
        note_modal("per_1", "Ada", None, private_metadata="x" * 3001)


def test_note_modal_cuts_initial_text_to_the_input_limit() -> None:
    view = check.view(note_modal("per_1", "Ada", None, initial_text="😀" * 5000))
    initial = _inputs(view)[fields.NOTE_TEXT]["element"]["initial_value"]
    assert check.utf16_len(initial) <= 3000 and initial.endswith("…")


def test_task_modal_has_required_title_and_optional_due_date_and_description() -> None:
    view = check.view(
        task_modal(
            "per_1", "Ada", "cred_1", initial_title="Call Ada", initial_due="2026-12-01", initial_description="About"
        )
    )

    assert view["callback_id"] == View.TASK_SUBMIT
    inputs = _inputs(view)
    assert list(inputs) == [fields.TASK_TITLE, fields.TASK_DUE, fields.TASK_DESCRIPTION]
    assert not inputs[fields.TASK_TITLE].get("optional")
    assert inputs[fields.TASK_TITLE]["element"]["initial_value"] == "Call Ada"
    assert inputs[fields.TASK_DUE]["optional"] is True
    assert inputs[fields.TASK_DUE]["element"] == {
        "type": "datepicker",
        "action_id": fields.TASK_DUE,
        "initial_date": "2026-12-01",
        "placeholder": {"type": "plain_text", "text": "No due date", "emoji": True},
    }
    assert inputs[fields.TASK_DESCRIPTION]["optional"] is True
    assert inputs[fields.TASK_DESCRIPTION]["element"]["multiline"] is True


@pytest.mark.parametrize(
    ("due", "expected"),
    [(date(2026, 1, 2), "2026-01-02"), ("20260102", "2026-01-02"), ("next friday", None), (None, None)],
)
def test_task_modal_only_prefills_real_dates(due: str | date | None, expected: str | None) -> None:
    view = check.view(task_modal("per_1", "Ada", None, initial_due=due))
    assert _inputs(view)[fields.TASK_DUE]["element"].get("initial_date") == expected


@FAST
@given(name=hostile_text, title=hostile_text, description=hostile_text, person_id=ids)
def test_task_and_note_modals_are_valid_for_hostile_data(
    name: str, title: str, description: str, person_id: str
) -> None:
    # An id too long for private_metadata is a programming error upstream, not something to render.
    if len(person_id) > 1000:
        person_id = person_id[:1000]
    check.view(task_modal(person_id, name, None, initial_title=title, initial_description=description, error=title))
    check.view(note_modal(person_id, name, None, initial_text=description, error=name))


def test_person_modal_prefills_from_field_ids() -> None:
    initial = {
        fields.PERSON_FIRST: "Ada",
        fields.PERSON_LAST: "Lovelace",
        fields.PERSON_EMAIL: "ada@example.com",
        fields.PERSON_TITLE: "CTO",
        fields.PERSON_COMPANY: None,
    }
    view = check.view(person_modal(initial))

    assert view["callback_id"] == View.PERSON_SUBMIT
    inputs = _inputs(view)
    assert list(inputs) == [
        fields.PERSON_FIRST,
        fields.PERSON_LAST,
        fields.PERSON_EMAIL,
        fields.PERSON_TITLE,
        fields.PERSON_COMPANY,
    ]
    assert inputs[fields.PERSON_EMAIL]["element"]["type"] == "email_text_input"
    assert {block_id: block["element"].get("initial_value") for block_id, block in inputs.items()} == {
        fields.PERSON_FIRST: "Ada",
        fields.PERSON_LAST: "Lovelace",
        fields.PERSON_EMAIL: "ada@example.com",
        fields.PERSON_TITLE: "CTO",
        fields.PERSON_COMPANY: None,
    }
    assert [block_id for block_id, block in inputs.items() if not block.get("optional")] == [fields.PERSON_FIRST]


def test_person_modal_drops_an_initial_email_that_is_not_one() -> None:
    view = check.view(person_modal({fields.PERSON_EMAIL: "ada at example"}))
    assert "initial_value" not in _inputs(view)[fields.PERSON_EMAIL]["element"]
    check.view(person_modal())


def test_the_lookup_modal_asks_for_one_query_prefilled() -> None:
    view = check.view(lookup_modal(initial_query="ada"))
    assert view["callback_id"] == View.LOOKUP_SUBMIT
    assert list(_inputs(view)) == [fields.LOOKUP_QUERY]
    assert _inputs(view)[fields.LOOKUP_QUERY]["element"]["initial_value"] == "ada"


def test_message_to_crm_modal_for_a_note_prefills_the_message_and_its_link() -> None:
    text = "Ada wants a demo &amp; pricing, cc <@U1>"
    permalink = "https://acme.slack.com/archives/C1/p123"
    view = check.view(message_to_crm_modal("note", text, permalink, '{"c":"C1"}'))

    assert view["callback_id"] == View.NOTE_SUBMIT
    assert view["private_metadata"] == '{"c":"C1"}'
    inputs = _inputs(view)
    assert list(inputs) == [fields.PERSON_SELECT, fields.NOTE_TEXT]
    picker = inputs[fields.PERSON_SELECT]["element"]
    assert picker["type"] == "external_select"
    assert picker["action_id"] == fields.PERSON_SELECT
    assert picker["min_query_length"] == 2
    assert inputs[fields.NOTE_TEXT]["element"]["initial_value"] == (
        f"Ada wants a demo & pricing, cc @U1\n\nFrom Slack: {permalink}"
    )


def test_message_to_crm_modal_for_a_task_uses_the_first_line_as_title() -> None:
    view = check.view(message_to_crm_modal("task", "\n  Send the deck\nbefore Friday", "https://x.slack.com/p1", "{}"))

    assert view["callback_id"] == View.TASK_SUBMIT
    inputs = _inputs(view)
    assert list(inputs) == [fields.PERSON_SELECT, fields.TASK_TITLE, fields.TASK_DUE, fields.TASK_DESCRIPTION]
    assert inputs[fields.TASK_TITLE]["element"]["initial_value"] == "Send the deck"
    assert inputs[fields.TASK_DESCRIPTION]["element"]["initial_value"] == (
        "Send the deck\nbefore Friday\n\nFrom Slack: https://x.slack.com/p1"
    )


def test_message_to_crm_modal_keeps_the_link_when_the_message_is_huge() -> None:
    view = check.view(message_to_crm_modal("note", "word " * 5000, "https://x.slack.com/p1", "{}"))
    initial = _inputs(view)[fields.NOTE_TEXT]["element"]["initial_value"]
    assert initial.endswith("…\n\nFrom Slack: https://x.slack.com/p1")


@FAST
@given(kind=st.sampled_from(["note", "task"]), text=hostile_text, permalink=hostile_text)
def test_message_to_crm_modal_is_valid_for_hostile_data(
    kind: Literal["note", "task"], text: str, permalink: str
) -> None:
    check.view(message_to_crm_modal(kind, text, permalink, "{}"))


def test_validation_errors_is_the_response_slack_expects() -> None:
    assert validation_errors(note_text="Write something first") == {
        "response_action": "errors",
        "errors": {fields.NOTE_TEXT: "Write something first"},
    }
    errors = validation_errors({fields.approval_field("title"): "Too\nlong " + "x" * 500})["errors"]
    message = errors[fields.approval_field("title")]
    assert message.startswith("Too long") and len(message) <= 300
