"""`/rollout …`: parse, ack at once, then run the request and answer through handlers.respond."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.messages import user_message
from bot.commands import (
    AddNote,
    Command,
    Connect,
    CreatePerson,
    CreateTask,
    FreeText,
    Help,
    ListCredentials,
    Overview,
    parse,
)
from bot.identity import SlackUser
from bot.ids import SLASH_COMMAND
from handlers.agent_output import CONFIGURE_HINT, answer_command
from handlers.requests import Op, Request, connect, run
from handlers.respond import Reply, after_ack, show_help

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    async def rollout_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        user = SlackUser(command["team_id"], command["user_id"])
        trigger_id = command.get("trigger_id")
        await ack()
        reply = Reply(client, user, channel_id=command.get("channel_id"), response_url=command.get("response_url"))
        work = handle_command(str(command.get("text") or ""), reply, services, trigger_id=trigger_id)
        # Slash commands carry no delivery id; the trigger is unique per invocation, so it stands in for one.
        once = _delivery_key(user, trigger_id) if trigger_id else None
        after_ack(services, reply, work, name="slash command", once=once)

    app.command(SLASH_COMMAND)(rollout_command)


async def handle_command(text: str, reply: Reply, services: Services, *, trigger_id: str | None) -> None:
    command = parse(text, today=datetime.now(UTC).date())
    request = to_request(command, reply)
    if request is not None:
        await run(request, reply, services, trigger_id=trigger_id)
        return
    match command:
        case Connect():
            await connect(reply, services)
        case FreeText(text=free_text):
            await answer_free_text(free_text, reply, services)
        case Help(problem=problem):
            await show_help(reply, problem)


def to_request(command: Command, reply: Reply) -> Request | None:
    """The CRM request a command asks for; None for the ones that are not CRM requests (help, connect, free text)."""
    place = {"channel_id": reply.channel_id, "thread_ts": reply.thread_ts}
    match command:
        case Overview(query=query):
            return Request(Op.OVERVIEW, {"query": query}, **place)
        case AddNote(person=person, text=text):
            return Request(Op.NOTE, {"query": person, "text": text}, **place)
        case CreateTask(person=person, title=title, due=due, due_text=due_text):
            args = {"query": person, "title": title, "due": due.isoformat() if due else "", "due_text": due_text or ""}
            return Request(Op.TASK, args, **place)
        case CreatePerson(first_name=first, last_name=last, email=email):
            return Request(Op.CREATE_PERSON, {"first_name": first, "last_name": last, "email": email}, **place)
        case ListCredentials():
            return Request(Op.CREDENTIALS, {}, **place)
    return None


async def answer_free_text(text: str, reply: Reply, services: Services) -> None:
    """`/rollout <anything else>` is a question for the agent (handlers.agent_output answers it privately).

    Without an agent configured the user learns why, next to the usage help listing everything that works without one.
    """
    if services.agent is None:
        await show_help(reply, user_message("llm_not_configured", CONFIGURE_HINT))
        return
    await answer_command(text, reply, services)


def _delivery_key(user: SlackUser, trigger_id: str) -> str:
    digest = hashlib.sha256(f"{user.team_id}:{user.user_id}:{trigger_id}".encode()).hexdigest()
    return f"command:{digest}"
