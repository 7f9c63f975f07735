from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.blocks import approval_card, approval_edit_modal, fields
from bot.blocks.approvals import ApprovalStatus
from bot.ids import Action, View

from . import slack_checks as check
from .strategies import FAST, hostile_text

DETAILS = [("Person", "Ada Lovelace"), ("Title", "Call Ada"), ("Due", "2026-12-01"), ("Description", "a\nb")]
STATUSES: list[ApprovalStatus] = ["approved", "cancelled", "expired", "done", "failed"]


def test_pending_approval_card_shows_what_will_be_written_and_three_buttons() -> None:
    blocks = check.message(approval_card("apr_1", "Create a task for Ada", "Create task", DETAILS, "pending"))

    assert blocks[0]["text"]["text"] == "🤖 *Create task*\nCreate a task for Ada"
    short = [field["text"] for field in blocks[1]["fields"]]
    assert short == ["*Person*\nAda Lovelace", "*Title*\nCall Ada", "*Due*\n2026-12-01"]
    assert blocks[2]["text"]["text"] == "*Description*\na\nb"

    [actions] = [block for block in blocks if block["type"] == "actions"]
    assert [(b["action_id"], b.get("style")) for b in actions["elements"]] == [
        (Action.APPROVAL_APPROVE, "primary"),
        (Action.APPROVAL_EDIT, None),
        (Action.APPROVAL_CANCEL, "danger"),
    ]
    assert all(json.loads(b["value"]) == {"a": "apr_1"} for b in actions["elements"])


@pytest.mark.parametrize("status", STATUSES)
def test_decided_approval_card_has_no_buttons_and_a_status_line(status: ApprovalStatus) -> None:
    blocks = check.message(approval_card("apr_1", "Create a task", "Create task", DETAILS, status, "Task <t1> made"))

    assert list(check.elements(blocks)) == []
    text = check.all_text(blocks)
    assert {"approved": "Approved", "cancelled": "Cancelled", "expired": "Expired", "done": "Done", "failed": "failed"}[
        status
    ] in text
    assert "Task &lt;t1&gt; made" in text


def test_approval_card_escapes_what_the_model_wants_to_write() -> None:
    details = [("*Note*`", "<!channel> please read <https://evil.example|this>")]
    blocks = check.message(approval_card("apr_1", "<@U1> note", "Add *note*", details, "pending"))
    text = check.all_text(blocks)
    assert "&lt;!channel&gt; please read &lt;https://evil.example|this&gt;" in text
    assert "&lt;@U1&gt; note" in text
    assert "Add ∗note∗" in text  # our bold markers stay balanced


def test_approval_card_with_many_details_stays_within_the_block_limit() -> None:
    details = [(f"Field {n}", "line\n" * n) for n in range(200)]
    blocks = check.message(approval_card("apr_1", "s", "t", details, "pending"))
    assert check.by_action(blocks, Action.APPROVAL_APPROVE)
    assert "more details than fit" in check.all_text(blocks)


@FAST
@given(
    summary=hostile_text,
    label=hostile_text,
    details=st.lists(st.tuples(hostile_text, hostile_text), max_size=15),
    status=st.sampled_from(["pending", *STATUSES]),
    result=st.none() | hostile_text,
)
def test_approval_card_is_valid_for_hostile_data(
    summary: str, label: str, details: list[tuple[str, str]], status: ApprovalStatus, result: str | None
) -> None:
    blocks = check.message(approval_card("apr_1", summary, label, details, status, result))
    assert bool(check.by_action(blocks, Action.APPROVAL_APPROVE)) == (status == "pending")


def test_approval_edit_modal_has_one_input_per_field() -> None:
    view = check.view(approval_edit_modal("apr_1", {"title": "Call Ada", "due_date": "", "body": "line\nline"}))

    assert view["callback_id"] == View.APPROVAL_EDIT_SUBMIT
    assert json.loads(view["private_metadata"]) == {"a": "apr_1"}
    inputs = [block for block in view["blocks"] if block["type"] == "input"]
    assert [block["block_id"] for block in inputs] == [
        fields.approval_field("title"),
        fields.approval_field("due_date"),
        fields.approval_field("body"),
    ]
    assert [block["label"]["text"] for block in inputs] == ["Title", "Due date", "Body"]
    assert inputs[0]["element"]["initial_value"] == "Call Ada"
    assert "initial_value" not in inputs[1]["element"] and inputs[1]["optional"] is True
    assert inputs[2]["element"]["multiline"] is True


def test_approval_edit_modal_lists_values_too_long_to_edit() -> None:
    view = check.view(approval_edit_modal("apr_1", {"body": "x" * 3001, "title": "ok"}))
    assert [block["block_id"] for block in view["blocks"] if block["type"] == "input"] == [
        fields.approval_field("title")
    ]
    assert "Too long to edit here, kept as is: body" in check.all_text(view["blocks"])


def test_approval_edit_modal_with_nothing_to_edit_is_still_a_valid_view() -> None:
    view = check.view(approval_edit_modal("apr_1", {}))
    assert "nothing here you can edit" in check.all_text(view["blocks"])


@FAST
@given(values=st.dictionaries(st.text(min_size=1, max_size=300), hostile_text, max_size=12))
def test_approval_edit_modal_is_valid_for_hostile_data(values: dict[str, str]) -> None:
    check.view(approval_edit_modal("apr_1", values))
