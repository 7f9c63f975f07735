"""Modal submissions: validate inline, ack at once, then write through CrmService and confirm.

A submission is claimed by its view id only once it is valid, so fixing an inline error and resubmitting still works
while Slack retries and double submits write once. Only the user named in private_metadata may submit a modal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import fields
from bot.blocks.modals import validation_errors
from bot.blocks.text import is_plausible_email
from bot.blocks.values import decode_value
from bot.ids import View
from handlers.payloads import actor
from handlers.requests import Op, Request, run
from handlers.respond import Reply, after_ack, fail

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    async def submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        user = actor(body)
        metadata = decode_value(view.get("private_metadata"))
        # Where the answer goes: the channel (and card thread) the modal was opened from, else the user's DM.
        reply = Reply(client, user, channel_id=metadata.get("ch"), thread_ts=metadata.get("t"))
        if metadata.get("u") != user.user_id:
            await ack()
            after_ack(services, reply, fail(reply, "not_your_button"), name="refuse submission")
            return
        request, errors = _request_from(view, metadata, reply)
        if errors:
            await ack(**validation_errors(errors))
            return
        await ack()
        if request is None:
            return
        work = run(request, reply, services)
        after_ack(services, reply, work, name=f"{view.get('callback_id')} submission", once=f"view:{view.get('id')}")

    for callback in (View.NOTE_SUBMIT, View.TASK_SUBMIT, View.PERSON_SUBMIT, View.LOOKUP_SUBMIT):
        app.view(callback.value)(submitted)


def _request_from(
    view: Mapping[str, Any], metadata: Mapping[str, str], reply: Reply
) -> tuple[Request | None, dict[str, str]]:
    """The request a submission asks for, or the inline errors to show instead."""
    state = view.get("state") if isinstance(view.get("state"), Mapping) else {}
    place = {"channel_id": reply.channel_id, "thread_ts": reply.thread_ts}
    credential = metadata.get("c", "")
    match view.get("callback_id"):
        case View.NOTE_SUBMIT:
            values = fields.read_values(state, fields.NOTE_TEXT, fields.PERSON_SELECT)
            person = values[fields.PERSON_SELECT] or metadata.get("p")
            errors = _need(values, {fields.NOTE_TEXT: "Write the note first."})
            if not person:
                errors[fields.PERSON_SELECT] = "Pick who the note is about."
            args = {"person_id": person or "", "text": values[fields.NOTE_TEXT] or "", "credential_id": credential}
            return Request(Op.NOTE, args, **place), errors
        case View.TASK_SUBMIT:
            values = fields.read_values(
                state, fields.TASK_TITLE, fields.TASK_DUE, fields.TASK_DESCRIPTION, fields.PERSON_SELECT
            )
            person = values[fields.PERSON_SELECT] or metadata.get("p")
            errors = _need(values, {fields.TASK_TITLE: "Give the task a title."})
            if not person:
                errors[fields.PERSON_SELECT] = "Pick who the task is for."
            args = {
                "person_id": person or "",
                "title": values[fields.TASK_TITLE] or "",
                "due": values[fields.TASK_DUE] or "",
                "description": values[fields.TASK_DESCRIPTION] or "",
                "credential_id": credential,
            }
            return Request(Op.TASK, args, **place), errors
        case View.PERSON_SUBMIT:
            values = fields.read_values(state)
            errors = _need(values, {fields.PERSON_FIRST: "Enter a first name."})
            email = values.get(fields.PERSON_EMAIL) or ""
            if not is_plausible_email(email):
                errors[fields.PERSON_EMAIL] = "Enter an email address, e.g. ada@example.com."
            args = {
                "first_name": values.get(fields.PERSON_FIRST) or "",
                "last_name": values.get(fields.PERSON_LAST) or "",
                "email": email,
                "job_title": values.get(fields.PERSON_TITLE) or "",
                "company": values.get(fields.PERSON_COMPANY) or "",
            }
            return Request(Op.CREATE_PERSON, args, **place), errors
        case View.LOOKUP_SUBMIT:
            values = fields.read_values(state, fields.LOOKUP_QUERY)
            errors = _need(values, {fields.LOOKUP_QUERY: "Type a name or an email."})
            # From App Home there is no channel: the card goes to the user's DM with the bot.
            return Request(Op.OVERVIEW, {"query": values[fields.LOOKUP_QUERY] or ""}), errors
    return None, {}


def _need(values: Mapping[str, str | None], required: Mapping[str, str]) -> dict[str, str]:
    return {field_id: message for field_id, message in required.items() if not values.get(field_id)}
