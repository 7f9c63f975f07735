"""`to_wire`, the reply path's serializer, gives exactly what slack_sdk's validating `to_dicts` gives, for every
message builder and hostile data; only the validation (done here, in the tests) is left out."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block, InputBlock, PlainTextInputElement, PlainTextObject, RichTextBlock

from bot.blocks import (
    check_dms_message,
    connect_dm,
    created_message,
    credential_picker,
    credentials_list,
    error_message,
    help_message,
    match_picker,
    not_found_message,
    person_card,
    stopped_early_note,
    thinking_message,
    to_dicts,
)
from bot.blocks.elements import to_wire
from bot.rollout.outcomes import Created, Credential, Person, PersonSummary

from . import slack_checks as check
from .strategies import FAST, credentials, hostile_text, ids, people, summaries


def same(blocks: list[Block]) -> None:
    # As JSON text: the same keys in the same order, byte for byte what Slack receives.
    assert json.dumps(to_wire(blocks)) == json.dumps(check.message(blocks))


@FAST
@given(person=people, credential=st.none() | credentials)
def test_person_card(person: Person, credential: Credential | None) -> None:
    same(person_card(person, credential))


@FAST
@given(query=hostile_text, found=st.lists(summaries, max_size=14), credential_id=st.none() | ids)
def test_match_picker(query: str, found: list[PersonSummary], credential_id: str | None) -> None:
    same(match_picker(query, found, credential_id))


@FAST
@given(query=hostile_text, text=hostile_text, url=st.none() | hostile_text)
def test_messages(query: str, text: str, url: str | None) -> None:
    same(not_found_message(query))
    same(error_message(text))
    same(created_message(Created("note", "n1", text, person_id="p1", url=url)))


@FAST
@given(listed=st.lists(credentials, max_size=12), parked=st.none() | ids)
def test_credential_messages(listed: list[Credential], parked: str | None) -> None:
    same(credential_picker(listed, parked))
    same(credentials_list(listed, listed[0].id if listed else None))
    same(connect_dm("https://universal.rollout.com/mcp/credentials/abc", parked))


def test_fixed_messages() -> None:
    for blocks in (help_message(), check_dms_message(), thinking_message(), stopped_early_note()):
        same(blocks)


def test_objects_with_their_own_to_dict_and_allowed_empty_lists_go_slack_sdks_way() -> None:
    rich = RichTextBlock(elements=[{"type": "rich_text_section", "elements": []}])
    field = InputBlock(label=PlainTextObject(text="Note"), element=PlainTextInputElement(action_id="a", multiline=True))
    assert json.dumps(to_wire([rich, field])) == json.dumps(to_dicts([rich, field]))
