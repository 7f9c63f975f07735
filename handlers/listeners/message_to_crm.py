"""Message shortcuts ("Save to CRM as note", "Create CRM task") and the CRM-backed person search in their modals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.elements import to_dicts
from bot.blocks.messages import Notice
from bot.blocks.modals import message_to_crm_modal
from bot.blocks.person import person_options
from bot.identity import slack_user
from bot.ids import Action, Shortcut
from handlers.slack.command_surface import modal_metadata
from handlers.slack.options import people_matching
from handlers.slack.replies import Reply, after_ack, fail, message_permalink, open_modal

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    def from_message(
        kind: Literal["note", "task"],
    ) -> Callable[[AsyncAck, dict[str, Any], AsyncWebClient, AsyncBoltContext], Awaitable[None]]:
        async def shortcut(
            ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
        ) -> None:
            await ack()
            channel = _dict(shortcut.get("channel")).get("id")
            reply = Reply(
                client, slack_user(context, shortcut), channel_id=channel, response_url=shortcut.get("response_url")
            )
            after_ack(services, reply, _open_modal(reply, kind, shortcut), name=f"message to CRM {kind}")

        return shortcut

    async def search_people(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        query = str(body.get("value") or "").strip()
        people = await people_matching(services, slack_user(context, body), query)
        await ack(options=to_dicts(person_options(people)))

    app.shortcut(Shortcut.SAVE_AS_NOTE.value)(from_message("note"))
    app.shortcut(Shortcut.CREATE_TASK_FROM_MESSAGE.value)(from_message("task"))
    app.options(Action.PERSON_SELECT.value)(search_people)


async def _open_modal(reply: Reply, kind: Literal["note", "task"], shortcut: Mapping[str, Any]) -> None:
    message = _dict(shortcut.get("message"))
    message_ts = str(message.get("ts") or shortcut.get("message_ts") or "")
    permalink = ""
    if reply.channel_id and message_ts:
        permalink = await message_permalink(reply.client, reply.channel_id, message_ts, reply.user)
    view = message_to_crm_modal(kind, str(message.get("text") or ""), permalink, modal_metadata(reply))
    if not await open_modal(reply.client, shortcut.get("trigger_id"), view, reply.user):
        await fail(reply, Notice.SLACK_ERROR)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
