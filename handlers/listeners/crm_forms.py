"""Modal submissions: validate inline, ack at once, then write through CrmService and confirm.

A submission is claimed by its view id only once it is valid, so fixing an inline error and resubmitting still works
while Slack retries and double submits write once. Only the user named in private_metadata may submit a modal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import fields
from bot.blocks.messages import Notice
from bot.blocks.modals import validation_errors
from bot.blocks.text import is_plausible_email
from bot.blocks.values import decode_value
from bot.commands import AddNote, CreatePerson, CreateTask, CrmCommand, Overview, PersonRef
from bot.identity import slack_user
from bot.ids import View
from handlers.slack.command_surface import run
from handlers.slack.payloads import object_at
from handlers.slack.replies import Reply, after_ack, fail

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    async def submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        user = slack_user(context, body)
        metadata = decode_value(view.get("private_metadata"))
        # Where the answer goes: the channel (and card thread) the modal was opened from, else the user's DM.
        reply = Reply(client, user, channel_id=metadata.get("ch"), thread_ts=metadata.get("t"))
        if metadata.get("u") != user.user_id:
            await ack()
            after_ack(services, reply, fail(reply, Notice.NOT_YOUR_BUTTON), name="refuse submission")
            return
        command, errors = _command_from(view, metadata)
        if errors:
            await ack(**validation_errors(errors))
            return
        await ack()
        if command is None:
            return
        work = run(command, reply, services)
        after_ack(services, reply, work, name=f"{view.get('callback_id')} submission", once=f"view:{view.get('id')}")

    for callback in (View.NOTE_SUBMIT, View.TASK_SUBMIT, View.PERSON_SUBMIT, View.LOOKUP_SUBMIT):
        app.view(callback.value)(submitted)


def _command_from(view: Mapping[str, Any], metadata: Mapping[str, str]) -> tuple[CrmCommand | None, dict[str, str]]:
    """The command a submission asks for, or the inline errors to show instead."""
    state = object_at(view, "state")
    match view.get("callback_id"):
        case View.NOTE_SUBMIT:
            values = fields.read_values(state, fields.NOTE_TEXT, fields.PERSON_SELECT)
            target = _person(values[fields.PERSON_SELECT], metadata)
            errors = _need(values, {fields.NOTE_TEXT: "Write the note first."})
            if target is None:
                errors[fields.PERSON_SELECT] = "Pick who the note is about."
            return AddNote("", values[fields.NOTE_TEXT] or "", target), errors
        case View.TASK_SUBMIT:
            values = fields.read_values(
                state, fields.TASK_TITLE, fields.TASK_DUE, fields.TASK_DESCRIPTION, fields.PERSON_SELECT
            )
            target = _person(values[fields.PERSON_SELECT], metadata)
            errors = _need(values, {fields.TASK_TITLE: "Give the task a title."})
            if target is None:
                errors[fields.PERSON_SELECT] = "Pick who the task is for."
            due = _date(values[fields.TASK_DUE])
            description = values[fields.TASK_DESCRIPTION] or ""
            return CreateTask("", values[fields.TASK_TITLE] or "", due, None, description, target), errors
        case View.PERSON_SUBMIT:
            values = fields.read_values(state)
            errors = _need(values, {fields.PERSON_FIRST: "Enter a first name."})
            email = values.get(fields.PERSON_EMAIL) or ""
            if not is_plausible_email(email):
                errors[fields.PERSON_EMAIL] = "Enter an email address, e.g. ada@example.com."
            command = CreatePerson(
                values.get(fields.PERSON_FIRST) or "",
                values.get(fields.PERSON_LAST) or "",
                email,
                values.get(fields.PERSON_TITLE) or "",
                values.get(fields.PERSON_COMPANY) or "",
            )
            return command, errors
        case View.LOOKUP_SUBMIT:
            values = fields.read_values(state, fields.LOOKUP_QUERY)
            errors = _need(values, {fields.LOOKUP_QUERY: "Type a name or an email."})
            return Overview(values[fields.LOOKUP_QUERY] or ""), errors
    return None, {}


def _person(picked: str | None, metadata: Mapping[str, str]) -> PersonRef | None:
    """Who the modal is about: the person picked in it (in the user's own account), else the card's person."""
    if picked:
        return PersonRef(picked)
    if metadata.get("p"):
        return PersonRef(metadata["p"], email=metadata.get("e") or None, credential_id=metadata.get("c") or None)
    return None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _need(values: Mapping[str, str | None], required: Mapping[str, str]) -> dict[str, str]:
    return {field_id: message for field_id, message in required.items() if not values.get(field_id)}
