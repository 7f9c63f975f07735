from __future__ import annotations

import json

import pytest

from bot.blocks import fields
from bot.blocks.fields import read_approval_fields, read_values
from bot.blocks.values import check_metadata, decode_value, encode_metadata, encode_value
from bot.ids import Action


def test_encode_value_is_compact_json_without_missing_ids() -> None:
    assert encode_value(p="per_1", c="cred_hubspot_1") == '{"p":"per_1","c":"cred_hubspot_1"}'
    assert encode_value(c="cred_1", r=None) == '{"c":"cred_1"}'


def test_encode_value_refuses_what_does_not_fit() -> None:
    assert encode_value(p="x" * 2000) is None
    assert encode_value(limit=150, p="x" * 143) is None
    assert encode_value(limit=150, p="x" * 142) == '{"p":"' + "x" * 142 + '"}'


def test_encode_value_is_valid_json_for_any_id() -> None:
    encoded = encode_value(p='quote " backslash \\ surrogate \ud800')
    assert encoded is not None and encoded.isascii()
    assert json.loads(encoded)["p"].startswith('quote " backslash \\')


def test_metadata_round_trips_and_refuses_oversize() -> None:
    assert decode_value(encode_metadata(a="apr_1", p=None)) == {"a": "apr_1"}
    with pytest.raises(ValueError, match="private_metadata"):
        encode_metadata(p="x" * 3000)
    with pytest.raises(ValueError, match="private_metadata"):
        check_metadata("x" * 3001)


@pytest.mark.parametrize("value", [None, "", "not json", "[1,2]", '"s"', '{"p": 1, "c": "x"}'])
def test_decode_value_is_lenient_and_keeps_only_string_ids(value: str | None) -> None:
    decoded = decode_value(value)
    assert all(isinstance(item, str) for item in decoded.values())
    assert decoded in ({}, {"c": "x"})


def test_person_select_field_is_the_registry_action() -> None:
    assert Action.PERSON_SELECT.value == fields.PERSON_SELECT


def _state() -> dict[str, object]:
    # The shape of view["state"] in a real view_submission payload.
    return {
        "values": {
            fields.NOTE_TEXT: {fields.NOTE_TEXT: {"type": "plain_text_input", "value": "  Met at the fair \n"}},
            fields.TASK_TITLE: {fields.TASK_TITLE: {"type": "plain_text_input", "value": "   "}},
            fields.TASK_DUE: {fields.TASK_DUE: {"type": "datepicker", "selected_date": "2026-12-01"}},
            fields.TASK_DESCRIPTION: {fields.TASK_DESCRIPTION: {"type": "plain_text_input", "value": None}},
            fields.PERSON_EMAIL: {fields.PERSON_EMAIL: {"type": "email_text_input", "value": "ada@example.com"}},
            fields.PERSON_SELECT: {
                fields.PERSON_SELECT: {
                    "type": "external_select",
                    "selected_option": {"text": {"type": "plain_text", "text": "Ada"}, "value": "per_1"},
                }
            },
            "other_block": {"unrelated_action": {"type": "plain_text_input", "value": "ignored"}},
        }
    }


def test_read_values_extracts_each_input_type_by_id() -> None:
    values = read_values(
        _state(),
        fields.NOTE_TEXT,
        fields.TASK_TITLE,
        fields.TASK_DUE,
        fields.TASK_DESCRIPTION,
        fields.PERSON_EMAIL,
        fields.PERSON_SELECT,
        fields.LOOKUP_QUERY,
    )
    assert values == {
        fields.NOTE_TEXT: "Met at the fair",
        fields.TASK_TITLE: None,
        fields.TASK_DUE: "2026-12-01",
        fields.TASK_DESCRIPTION: None,
        fields.PERSON_EMAIL: "ada@example.com",
        fields.PERSON_SELECT: "per_1",
        fields.LOOKUP_QUERY: None,
    }


def test_read_values_without_ids_returns_every_input_and_survives_garbage() -> None:
    assert set(read_values(_state())) == {
        fields.NOTE_TEXT,
        fields.TASK_TITLE,
        fields.TASK_DUE,
        fields.TASK_DESCRIPTION,
        fields.PERSON_EMAIL,
        fields.PERSON_SELECT,
    }
    assert read_values({}) == {}
    assert read_values({"values": {"a": None, "b": {"b": "x"}}}, "a", "b") == {"a": None, "b": None}


def test_read_approval_fields_returns_edits_by_argument_name() -> None:
    state = {
        "values": {
            fields.approval_field("title"): {
                fields.approval_field("title"): {"type": "plain_text_input", "value": "X"}
            },
            fields.approval_field("body"): {fields.approval_field("body"): {"type": "plain_text_input", "value": None}},
            fields.NOTE_TEXT: {fields.NOTE_TEXT: {"type": "plain_text_input", "value": "not an approval field"}},
        }
    }
    assert read_approval_fields(state) == {"title": "X", "body": ""}
