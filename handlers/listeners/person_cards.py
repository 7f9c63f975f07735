"""The person card's buttons and the pick list of people: add a note, create a task, open in the CRM, share the card
into the channel, pick one person, create one.

Values carry ids only. Every click runs as the user who clicked. Clicks that post are claimed after the ack (message
ts + action + value + user), so a double click acts once.

A card is first shown to its requester alone; **Share in channel** reads the person again as the clicker and posts the
card (without the Share button) where it was shown. Where people from outside the workspace are in the channel, or
Slack won't say, the clicker confirms first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View as SlackView
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import fields
from bot.blocks.messages import Notice
from bot.blocks.modals import note_modal, person_modal, task_modal
from bot.blocks.outcomes import outcome_message
from bot.blocks.person import SHARE_CONFIRMATION_TEXT, share_confirmation
from bot.blocks.text import is_plausible_email
from bot.blocks.values import decode_value
from bot.commands import PersonRef, ShowPerson
from bot.identity import slack_user
from bot.ids import Action
from bot.rollout.outcomes import PersonOverview
from handlers.slack.channels import ChannelAudiences
from handlers.slack.command_surface import modal_metadata, run
from handlers.slack.payloads import card_person_name, card_thread, click_key, click_reply, clicked_value
from handlers.slack.replies import Reply, after_ack, fail, open_modal, post_shared, present

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

    audiences = ChannelAudiences()

    def sharing(confirmed: bool, name: str) -> Callable[..., Awaitable[None]]:
        """Share in channel (confirmed=False: ask first where outsiders would see it) and Share anyway."""

        async def clicked(
            ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
        ) -> None:
            await ack()
            value = clicked_value(body) or ""
            ids = decode_value(value)
            reply = replace(click_reply(body, client, slack_user(context, body)), thread_ts=ids.get("t") or None)
            if not ids.get("p") or reply.channel_id is None:
                after_ack(services, reply, fail(reply, Notice.EXPIRED), name=name)
                return
            work = _share(services, audiences, reply, value, ids, confirmed=confirmed)
            after_ack(services, reply, work, name=name, once=click_key(body))

        return clicked

    async def cancel_share(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        after_ack(services, reply, reply.delete_original(), name="cancel share")

    app.action(Action.PERSON_ADD_NOTE.value)(add_note)
    app.action(Action.PERSON_CREATE_TASK.value)(create_task)
    app.action(Action.PERSON_OPEN_IN_CRM.value)(link_clicked)
    app.action(Action.PERSON_PICK.value)(pick_person)
    app.action(Action.PERSON_CREATE.value)(create_person)
    app.action(Action.PERSON_SHARE.value)(sharing(False, "share card"))
    app.action(Action.PERSON_SHARE_CONFIRM.value)(sharing(True, "share card anyway"))
    app.action(Action.PERSON_SHARE_CANCEL.value)(cancel_share)


async def _share(
    services: Services,
    audiences: ChannelAudiences,
    reply: Reply,
    value: str,
    ids: dict[str, str],
    *,
    confirmed: bool,
) -> None:
    assert reply.channel_id is not None  # checked by the listener
    if not confirmed and await audiences.has_outsiders(reply.client, reply.channel_id):
        await _ask(reply, share_confirmation(value), SHARE_CONFIRMATION_TEXT)
        return
    # Read again as the clicker, by the card's ids only: what is posted is what their own CRM access shows them now.
    found = await services.crm.person(reply.user, ids["p"], credential_id=ids.get("c") or None)
    if not isinstance(found, PersonOverview):
        await present(found, reply, services)
        return
    shown = outcome_message(found, shared_by=reply.user.user_id)
    if not await post_shared(reply, shown.blocks, shown.text):
        await fail(reply, Notice.SLACK_ERROR)
        return
    if confirmed:
        await reply.delete_original()  # the question is answered


async def _ask(reply: Reply, blocks: list[Block], text: str) -> None:
    # The click's response_url answers beside the card, in its thread too; chat.postEphemeral needs the thread named.
    await (replace(reply, thread_ts=None) if reply.response_url else reply).ephemeral(blocks, text)


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
