"""App Home: connection status, quick actions (connect, look up a person) and recent actions; opening the Messages tab
shows the agent's suggested prompts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.views import View as SlackView
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.messages import Notice
from bot.blocks.modals import lookup_modal
from bot.identity import slack_user
from bot.ids import Action
from handlers.slack.agent_view import show_prompts
from handlers.slack.command_surface import connect, modal_metadata
from handlers.slack.home import publish_home
from handlers.slack.payloads import click_key
from handlers.slack.replies import Reply, after_ack, fail, open_modal

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    async def home_opened(
        event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        if event.get("tab") == "messages" and event.get("channel"):
            # The Agent view: the Messages tab is where people talk to the agent (handlers/listeners/agent.py).
            work = show_prompts(services, client, str(event["channel"]), event_id=body.get("event_id"))
            services.background.spawn(work, "suggested prompts")
            return
        if event.get("tab") != "home":
            return
        user = slack_user(context, body)
        # Events are acked before listeners run: hand off at once, so shutdown waits for the work. A failure is only
        # logged: a DM about it would be noisier than a home tab that shows up on the next visit.
        services.background.spawn(publish_home(services, client, user, event_id=body.get("event_id")), "publish home")

    async def connect_clicked(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        reply = Reply(client, slack_user(context, body))  # from App Home: the link goes to the DM, as it always does
        after_ack(services, reply, connect(reply, services), name="home connect", once=click_key(body))

    async def lookup_clicked(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        reply = Reply(client, slack_user(context, body))
        view = lookup_modal(private_metadata=modal_metadata(reply))
        after_ack(services, reply, _open_lookup(reply, body.get("trigger_id"), view), name="open lookup modal")

    app.event("app_home_opened")(home_opened)
    app.action(Action.HOME_CONNECT.value)(connect_clicked)
    app.action(Action.HOME_LOOKUP.value)(lookup_clicked)


async def _open_lookup(reply: Reply, trigger_id: str | None, view: SlackView) -> None:
    if not await open_modal(reply.client, trigger_id, view, reply.user):
        await fail(reply, Notice.SLACK_ERROR)
