"""CRM accounts: the credential picker's buttons (use this account, make it my default) and the connect DM's buttons
(open Rollout's credential manager; run what was waiting once connected).

A parked request only ever reruns for its owner, once; clicks are claimed after the ack, so a double click acts once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.messages import Notice
from bot.blocks.values import decode_value
from bot.identity import slack_user
from bot.ids import Action
from bot.rollout.outcomes import Credentials
from handlers.slack.command_surface import rerun
from handlers.slack.payloads import click_key, click_reply, clicked_value
from handlers.slack.replies import Reply, after_ack, fail, present

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    async def link_clicked(ack: AsyncAck) -> None:
        await ack()  # link buttons open in the browser; Slack still tells us about the click

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

    app.action(Action.CONNECT_OPEN.value)(link_clicked)
    app.action(Action.CREDENTIAL_CHOOSE.value)(choose_credential)
    app.action(Action.CREDENTIAL_MAKE_DEFAULT.value)(make_default)
    app.action(Action.CONNECT_RETRY.value)(retry_after_connect)


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
