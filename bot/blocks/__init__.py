"""Pure Block Kit builders: outcome data in, validated slack_sdk blocks and views out. No I/O.

Every text from the CRM, the user or the model is escaped and cut to Slack's limits here; callers pass raw data.
"""

from __future__ import annotations

from bot.blocks.approvals import approval_card, approval_edit_modal
from bot.blocks.credentials import (
    check_dms_message,
    connect_dm,
    credential_picker,
    credentials_list,
    disconnected_message,
)
from bot.blocks.elements import to_dicts
from bot.blocks.fields import read_approval_fields, read_values
from bot.blocks.home import home_view
from bot.blocks.markdown import answer_blocks, markdown_to_mrkdwn, split_for_slack
from bot.blocks.messages import (
    USER_MESSAGES,
    error_message,
    help_message,
    stopped_early_note,
    thinking_message,
    user_message,
)
from bot.blocks.modals import (
    lookup_modal,
    message_to_crm_modal,
    note_modal,
    person_modal,
    task_modal,
    validation_errors,
)
from bot.blocks.person import (
    created_message,
    match_picker,
    not_found_message,
    person_card,
    person_card_text,
    person_options,
    unrecognised_card,
)
from bot.blocks.text import escape_mrkdwn
from bot.blocks.values import decode_value, encode_metadata, encode_value

__all__ = [
    "USER_MESSAGES",
    "answer_blocks",
    "approval_card",
    "approval_edit_modal",
    "check_dms_message",
    "connect_dm",
    "created_message",
    "credential_picker",
    "credentials_list",
    "decode_value",
    "disconnected_message",
    "encode_metadata",
    "encode_value",
    "error_message",
    "escape_mrkdwn",
    "help_message",
    "home_view",
    "lookup_modal",
    "markdown_to_mrkdwn",
    "match_picker",
    "message_to_crm_modal",
    "not_found_message",
    "note_modal",
    "person_card",
    "person_card_text",
    "person_modal",
    "person_options",
    "read_approval_fields",
    "read_values",
    "split_for_slack",
    "stopped_early_note",
    "task_modal",
    "thinking_message",
    "to_dicts",
    "unrecognised_card",
    "user_message",
    "validation_errors",
]
