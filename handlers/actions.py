"""Buttons and selects on our messages: person cards, pick lists, credential pickers and the connect DM.

Values carry ids only. Every click runs as the user who clicked; a parked request only ever reruns for its owner.
Clicks that post or write are claimed after the ack (message ts + action + value + user), so a double click acts once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
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
from bot.rollout.outcomes import Credentials
from handlers.payloads import card_person_name, card_thread, click_key, click_reply, clicked_value
from handlers.respond import Reply, after_ack, fail, open_modal, present
from handlers.surface import modal_metadata, rerun, run

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

    async def choose_credential(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        ids = decode_value(clicked_value(body))
        reply = click_reply(body, client, slack_user(context, body))
        work = _use_credential(services, reply, ids.get("c", ""), ids.get("r"), trigger_id=body.get("trigger_id"))
        after_ack(services, reply, work, name="choose credential", once=click_key(body))

    async def make_default(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        work = _use_credential(services, reply, decode_value(clicked_value(body)).get("c", ""), None, trigger_id=None)
        after_ack(services, reply, work, name="make default credential", once=click_key(body))

    async def retry_after_connect(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        parked_id = decode_value(clicked_value(body)).get("r", "")
        work = _rerun_parked(services, reply, parked_id, trigger_id=body.get("trigger_id"))
        after_ack(services, reply, work, name="retry after connect", once=click_key(body))

    app.action(Action.PERSON_ADD_NOTE.value)(add_note)
    app.action(Action.PERSON_CREATE_TASK.value)(create_task)
    app.action(Action.PERSON_OPEN_IN_CRM.value)(link_clicked)
    app.action(Action.CONNECT_OPEN.value)(link_clicked)
    app.action(Action.PERSON_PICK.value)(pick_person)
    app.action(Action.PERSON_CREATE.value)(create_person)
    app.action(Action.CREDENTIAL_CHOOSE.value)(choose_credential)
    app.action(Action.CREDENTIAL_MAKE_DEFAULT.value)(make_default)
    app.action(Action.CONNECT_RETRY.value)(retry_after_connect)


async def _open(reply: Reply, trigger_id: str | None, view: SlackView) -> None:
    if not await open_modal(reply.client, trigger_id, view, reply.user):
        await fail(reply, Notice.SLACK_ERROR)


async def _use_credential(
    services: Services, reply: Reply, credential_id: str, parked_id: str | None, *, trigger_id: str | None
) -> None:
    """Make the account the user's default, then run what was waiting for it (if anything)."""
    payload = None
    if parked_id:
        # take() hands a parked request only to its owner, and only once.
        payload = await services.store.parked.take(parked_id, reply.user, datetime.now(UTC))
        if payload is None:
            await fail(reply, Notice.EXPIRED)
            return
    chosen = await services.crm.set_default_credential(reply.user, credential_id)
    if not isinstance(chosen, Credentials):
        await present(chosen, reply, services)
        return
    await reply.delete_original()  # the picker has done its job
    if payload is None:
        await present(chosen, reply, services)
        return
    await rerun(payload, reply, services, trigger_id=trigger_id)


async def _rerun_parked(services: Services, reply: Reply, parked_id: str, *, trigger_id: str | None) -> None:
    payload = await services.store.parked.take(parked_id, reply.user, datetime.now(UTC)) if parked_id else None
    if payload is None:
        await fail(reply, Notice.EXPIRED)
        return
    await rerun(payload, reply, services, trigger_id=trigger_id)


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
