"""The card that proposes saving a Slack thread to the CRM (note, tasks to tick, person), and its edit modal."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    CheckboxesElement,
    ExternalDataSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
)
from slack_sdk.models.views import View as SlackView

from bot.blocks.elements import EMPTY, actions, button, context, header, pt, section
from bot.blocks.text import (
    MODAL_BUTTON,
    MODAL_TITLE,
    OPTION_TEXT,
    PLAIN_TEXT_INPUT,
    SELECT_OPTIONS,
    escape_inline,
    escape_mrkdwn,
    link,
    truncate_plain,
)
from bot.blocks.values import encode_metadata, encode_value
from bot.ids import Action, View
from bot.thread_saves import ThreadSave

NOTE_BLOCK = "thread_save.note"
_PERSON_BLOCK = "thread_save.person:"  # + the save's id: an ephemeral card's select click carries no message
STATUS_LINES: dict[str, str] = {
    "done": "✅ Saved to your CRM.",
    "cancelled": "✖️ Cancelled — nothing was written.",
    "expired": "⌛ Expired — nothing was written. Save the thread again if you still want it.",
    "approved": "⚠️ Nothing was written — see the message below, then approve again.",
    "failed": "⚠️ Your CRM didn't confirm the note — check there before saving this thread again.",
}


def thread_save_card(save: ThreadSave, *, note_line: str | None = None) -> list[Block]:
    """Visible to the requester only; nothing is written until they click Approve."""
    value = encode_value(s=save.id)
    pending = save.status == "pending"
    decidable = pending or save.status == "approved"  # approved, but its write never reached the CRM
    covered = f"{save.messages} message{'s' if save.messages != 1 else ''}"
    intro = f"Save this thread to your CRM ({covered}" + (
        ", only what came after the last save)" if save.since_last else ")"
    )
    blocks: list[Block] = [header("Save this thread to your CRM"), context(escape_mrkdwn(intro))]
    if save.person is not None:
        who = escape_inline(save.person.name or save.person.email or save.person.id)
        account = escape_inline(save.account or save.person.credential_id or "your default CRM account")
        blocks.append(section(f"*Person:* {who}\n*CRM account:* {account}"))
    elif pending:
        blocks.append(section("*Person:* I couldn't tell who this thread is about — pick them:"))
        blocks.append(ActionsBlock(block_id=f"{_PERSON_BLOCK}{save.id}", elements=[_person_select()]))
    blocks.append(section(f"*Note*\n{escape_mrkdwn(save.note)}"))
    if save.tasks and decidable:
        options = [_task_option(index, task.title, task.due) for index, task in enumerate(save.tasks)]
        checkboxes = CheckboxesElement(
            action_id=Action.THREAD_SAVE_TASKS.value, options=options[:10], initial_options=options[:10]
        )
        blocks.append(section("*Tasks* — untick any you don't want"))
        blocks.append(ActionsBlock(block_id=Action.THREAD_SAVE_TASKS.value, elements=[checkboxes]))
    elif save.tasks:
        lines = "\n".join(
            f"• {escape_mrkdwn(task.title)}" + (f" — due {task.due}" if task.due else "") for task in save.tasks
        )
        blocks.append(section(f"*Tasks*\n{lines}"))
    if decidable and value is not None:
        approve = button("Approve", Action.THREAD_SAVE_APPROVE, value=value, style="primary")
        edit = button("Edit note", Action.THREAD_SAVE_EDIT, value=value)
        cancel = button("Cancel", Action.THREAD_SAVE_CANCEL, value=value, style="danger")
        blocks += actions([approve, edit, cancel] if pending else [approve, cancel])
    if save.status in STATUS_LINES:
        blocks.append(context(STATUS_LINES[save.status]))
    if save.links:
        blocks.append(context(" · ".join(link(url, "Open in CRM") for url in save.links[:5])))
    if note_line:
        blocks.append(context(escape_mrkdwn(note_line)))
    return blocks


def thread_save_text(save: ThreadSave) -> str:
    who = save.person.name if save.person else "a person"
    return f"Save this thread to your CRM for {who}?"


def saved_in_thread(save: ThreadSave, written: Sequence[str]) -> list[Block]:
    """For everyone in the thread: that it was logged, what was written, and where."""
    who = escape_inline(save.person.name if save.person else "a person")
    lines = "\n".join(f"• {escape_mrkdwn(line)}" for line in written[:20])
    blocks: list[Block] = [section(f"📒 This thread was saved to the CRM for *{who}*.\n{lines}")]
    if save.links:
        blocks.append(context(" · ".join(link(url, "Open in CRM") for url in save.links[:5])))
    return blocks


def thread_note_modal(save: ThreadSave, response_url: str | None) -> SlackView:
    note = InputBlock(
        block_id=NOTE_BLOCK,
        label=pt("Note", 100),
        element=PlainTextInputElement(
            action_id=NOTE_BLOCK,
            multiline=True,
            # Slack counts UTF-16 units: cut by its measure, never inside an emoji or a combined character.
            initial_value=truncate_plain(save.note, PLAIN_TEXT_INPUT) or EMPTY,
            max_length=PLAIN_TEXT_INPUT,
        ),
    )
    return SlackView(
        type="modal",
        callback_id=View.THREAD_SAVE_EDIT_SUBMIT.value,
        title=pt("Edit the note", MODAL_TITLE),
        submit=pt("Save", MODAL_BUTTON),
        close=pt("Back", MODAL_BUTTON),
        private_metadata=encode_metadata(s=save.id, u=response_url),
        blocks=[note],
    )


def person_options_for(people: Sequence[tuple[str, str]]) -> list[Option]:
    """(person id, label) pairs as select options."""
    return [Option(value=pid, text=pt(label, OPTION_TEXT)) for pid, label in people[:SELECT_OPTIONS] if len(pid) <= 150]


def person_block_save(block_id: str) -> str:
    """The save a person select belongs to, from its block id."""
    return block_id.removeprefix(_PERSON_BLOCK) if block_id.startswith(_PERSON_BLOCK) else ""


def _person_select() -> ExternalDataSelectElement:
    return ExternalDataSelectElement(
        action_id=Action.THREAD_SAVE_PERSON.value, placeholder=pt("Search your CRM", 150), min_query_length=2
    )


def _task_option(index: int, title: str, due: str | None) -> Option:
    label = f"{title} (due {due})" if due else title
    return Option(value=str(index), text=pt(label, OPTION_TEXT))
