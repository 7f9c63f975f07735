"""The card asking a person to approve a write the assistant wants to make, and the modal to edit it first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from slack_sdk.models.blocks import ActionsBlock, Block, InputBlock, PlainTextInputElement
from slack_sdk.models.views import View as SlackView

from bot.blocks.elements import actions, button, context, fields_sections, pt, section
from bot.blocks.fields import approval_field
from bot.blocks.text import (
    BLOCK_ID,
    INPUT_LABEL,
    MESSAGE_BLOCKS,
    MODAL_BLOCKS,
    MODAL_BUTTON,
    MODAL_TITLE,
    PLAIN_TEXT_INPUT,
    clean,
    escape_inline,
    escape_mrkdwn,
    slack_len,
    truncate_mrkdwn,
)
from bot.blocks.values import encode_metadata, encode_value
from bot.ids import Action, View

# "retry": approved, but nothing could be written yet; approving again finishes it.
ApprovalStatus = Literal["pending", "approved", "cancelled", "expired", "done", "failed", "retry"]

STATUS_LINES: dict[str, str] = {
    "approved": "✅ Approved — writing it to your CRM…",
    "done": "✅ Done — written to your CRM.",
    "failed": "⚠️ Approved, but writing it failed.",
    "retry": "⚠️ Approved, but nothing was written yet — fix what's below, then approve again.",
    "cancelled": "✖️ Cancelled — nothing was written.",
    "expired": "⌛ Expired — nothing was written. Ask again if you still want it.",
}
SHORT_DETAIL = 100  # longer values, or ones with line breaks, get a block of their own instead of a field
_MAX_DETAIL_BLOCKS = MESSAGE_BLOCKS - 6  # room for the summary, buttons and status lines
_MULTILINE_FROM = 150
_MAX_EDIT_FIELDS = MODAL_BLOCKS - 2


def _detail_blocks(details: Sequence[tuple[str, str]]) -> list[Block]:
    short: list[str] = []
    long: list[Block] = []
    for label, value in details:
        name = escape_inline(label) or "Value"
        text = escape_mrkdwn(value) or "(empty)"
        if "\n" in text or slack_len(text) > SHORT_DETAIL:
            long.append(section(f"*{truncate_mrkdwn(name, 200)}*\n{text}"))
        else:
            short.append(f"*{truncate_mrkdwn(name, 200)}*\n{text}")
    blocks: list[Block] = [*fields_sections(short), *long]
    if len(blocks) > _MAX_DETAIL_BLOCKS:
        blocks = [*blocks[: _MAX_DETAIL_BLOCKS - 1], context("…and more details than fit here.")]
    return blocks


def approval_card(
    approval_id: str,
    summary: str,
    tool_label: str,
    details: Sequence[tuple[str, str]],
    status: ApprovalStatus,
    result_text: str | None = None,
) -> list[Block]:
    """What the assistant wants to write, escaped, with Approve / Edit / Cancel while pending."""
    label = escape_inline(tool_label) or "Write to your CRM"
    blocks: list[Block] = [section(f"🤖 *{truncate_mrkdwn(label, 200)}*\n{escape_mrkdwn(summary)}")]
    blocks += _detail_blocks(details)
    if status == "pending":
        blocks += _decision_buttons(approval_id, "Approve", editable=True)
        blocks.append(context("Nothing is written to your CRM until you approve."))
        return blocks
    blocks.append(context(STATUS_LINES[status]))
    result = escape_mrkdwn(result_text)
    if result:
        blocks.append(section(result))
    if status == "retry":
        blocks += _decision_buttons(approval_id, "Approve again", editable=False)
    return blocks


def _decision_buttons(approval_id: str, approve: str, *, editable: bool) -> list[ActionsBlock]:
    value = encode_value(a=approval_id)
    if value is None:
        raise ValueError("approval id too long for a button value")
    edit = [button("Edit", Action.APPROVAL_EDIT, value=value)] if editable else []
    return actions(
        [
            button(approve, Action.APPROVAL_APPROVE, value=value, style="primary"),
            *edit,
            button("Cancel", Action.APPROVAL_CANCEL, value=value, style="danger"),
        ]
    )


def _humanise(name: str) -> str:
    words = clean(name, single_line=True).replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "Value"


def approval_edit_modal(approval_id: str, fields: Mapping[str, str], card_url: str | None = None) -> SlackView:
    """One input per editable string argument. A value longer than an input holds is listed, not offered for edit:
    prefilling a cut version would silently write the cut text on save."""
    inputs: list[Block] = []
    not_editable: list[str] = []
    for name, raw in fields.items():
        value = clean(raw)
        block_id = approval_field(name)
        if len(block_id) > BLOCK_ID or slack_len(value) > PLAIN_TEXT_INPUT or len(inputs) >= _MAX_EDIT_FIELDS:
            not_editable.append(escape_inline(name) or "?")
            continue
        element = PlainTextInputElement(
            action_id=block_id,
            initial_value=value or None,
            multiline="\n" in value or slack_len(value) > _MULTILINE_FROM,
            max_length=PLAIN_TEXT_INPUT,
        )
        inputs.append(
            InputBlock(block_id=block_id, label=pt(_humanise(name), INPUT_LABEL), element=element, optional=not value)
        )
    blocks: list[Block] = inputs or [section("There is nothing here you can edit — approve or cancel it instead.")]
    if not_editable:
        names = truncate_mrkdwn(", ".join(not_editable), 1500)
        blocks.append(context(f"Too long to edit here, kept as is: {names}"))
    return SlackView(
        type="modal",
        callback_id=View.APPROVAL_EDIT_SUBMIT.value,
        title=pt("Edit before approving", MODAL_TITLE),
        submit=pt("Save", MODAL_BUTTON),
        close=pt("Cancel", MODAL_BUTTON),
        # The card's response_url: a card shown to its requester alone is rewritten through it after the edit.
        private_metadata=encode_metadata(a=approval_id, u=card_url),
        blocks=blocks,
    )
