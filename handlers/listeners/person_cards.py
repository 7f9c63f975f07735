"""The person card's buttons and the pick list of people: add a note, create a task, open in the CRM, pick one
person, create one.

Values carry ids only. Every click runs as the user who clicked. Clicks that post are claimed after the ack (message
ts + action + value + user), so a double click acts once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.views import View as SlackView
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import fields
from bot.blocks.messages import Notice
from bot.blocks.modals import note_modal, person_modal, task_modal
from bot.blocks.text import is_plausible_email
from bot.blocks.values import decode_value
from bot.commands import PersonRef, ShowPerson
from bot.identity import slack_user
from bot.ids import Action
from handlers.slack.command_surface import modal_metadata, run
from handlers.slack.payloads import card_person_name, card_thread, click_key, click_reply, clicked_value
from handlers.slack.replies import Reply, after_ack, fail, open_modal

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    def card_modal(build: Callable[..., SlackView], name: str) -> Callable[..., Awaitable[None]]:
        """A card button that opens a modal about the card's person (Add note, Create task)."""

        async def clicked(
            ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
        ) -> None:
            await ack()
            ids = decode_value(clicked_value(body))
            reply = replace(click_reply(body, client, slack_user(context, body)), thread_ts=card_thread(body))
            if not ids.get("p"):
                after_ack(services, reply, fail(reply, Notice.EXPIRED), name=name)
                return
            person = PersonRef(ids["p"], card_person_name(body), ids.get("e") or None, ids.get("c") or None)
            view = build(person.id, person.name, person.credential_id, private_metadata=modal_metadata(reply, person))
            after_ack(services, reply, _open(reply, body.get("trigger_id"), view), name=name)

        return clicked

    add_note = card_modal(note_modal, "open note modal")
    create_task = card_modal(task_modal, "open task modal")

    async def link_clicked(ack: AsyncAck) -> None:
        await ack()  # link buttons open in the browser; Slack still tells us about the click

    async def pick_person(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        ids = decode_value(clicked_value(body))
        reply = click_reply(body, client, slack_user(context, body))
        if not ids.get("p"):
            after_ack(services, reply, fail(reply, Notice.EXPIRED), name="pick person")
            return
        command = ShowPerson(PersonRef(ids["p"], credential_id=ids.get("c") or None))
        work = run(command, reply, services)
        after_ack(services, reply, work, name="pick person", once=click_key(body))

    async def create_person(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        typed = decode_value(clicked_value(body)).get("q", "")
        reply = click_reply(body, client, slack_user(context, body))
        view = person_modal(_person_prefill(typed), private_metadata=modal_metadata(reply))
        after_ack(services, reply, _open(reply, body.get("trigger_id"), view), name="open person modal")

    app.action(Action.PERSON_ADD_NOTE.value)(add_note)
    app.action(Action.PERSON_CREATE_TASK.value)(create_task)
    app.action(Action.PERSON_OPEN_IN_CRM.value)(link_clicked)
    app.action(Action.PERSON_PICK.value)(pick_person)
    app.action(Action.PERSON_CREATE.value)(create_person)


async def _open(reply: Reply, trigger_id: str | None, view: SlackView) -> None:
    if not await open_modal(reply.client, trigger_id, view, reply.user):
        await fail(reply, Notice.SLACK_ERROR)


def _person_prefill(typed: str) -> dict[str, str | None]:
    """What the user searched for, split into the person modal's fields: an email, and the rest as the name."""
    words = typed.split()
    email = next((word for word in words if is_plausible_email(word)), None)
    names = [word for word in words if word != email]
    return {
        fields.PERSON_FIRST: names[0] if names else None,
        fields.PERSON_LAST: " ".join(names[1:]) or None,
        fields.PERSON_EMAIL: email,
    }
