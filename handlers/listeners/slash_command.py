"""`/rollout …`: ack at once, then parse and run the command (handlers.slack.command_surface answers it)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import parse
from bot.identity import SlackUser, slack_user
from bot.ids import SLASH_COMMAND
from handlers.slack.command_surface import run
from handlers.slack.replies import Reply, after_ack

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    async def rollout_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        user = slack_user(context, command)
        trigger_id = command.get("trigger_id")
        await ack()
        reply = Reply(client, user, channel_id=command.get("channel_id"), response_url=command.get("response_url"))
        work = handle_command(str(command.get("text") or ""), reply, services, trigger_id=trigger_id)
        # Slash commands carry no delivery id; the trigger is unique per invocation, so it stands in for one.
        once = _delivery_key(user, trigger_id) if trigger_id else None
        after_ack(services, reply, work, name="slash command", once=once)

    app.command(SLASH_COMMAND)(rollout_command)


async def handle_command(text: str, reply: Reply, services: Services, *, trigger_id: str | None) -> None:
    await run(parse(text, today=datetime.now(UTC).date()), reply, services, trigger_id=trigger_id)


def _delivery_key(user: SlackUser, trigger_id: str) -> str:
    digest = hashlib.sha256(f"{user.team_id}:{user.user_id}:{trigger_id}".encode()).hexdigest()
    return f"command:{digest}"
