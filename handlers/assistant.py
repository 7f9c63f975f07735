"""The Slack AI assistant panel: suggested prompts on a new thread, a "thinking…" status while the agent works.

Every assistant thread is a conversation of its own (stored by thread ts), answered like a mention in a channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.set_status.async_set_status import AsyncSetStatus
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import AsyncSetSuggestedPrompts
from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.text import slack_to_plain
from bot.identity import SlackUser
from bot.store import ConversationKey
from handlers.agent_output import CONFIGURE_HINT, ThreadSurface, deliver
from handlers.respond import Reply, fail

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services

log = logging.getLogger(__name__)

GREETING = "Hi! Ask me about anyone in your CRM, or tell me what to note or follow up on."
SUGGESTED_PROMPTS: tuple[dict[str, str], ...] = (
    {"title": "Catch up on a lead", "message": "What's new with my contact at Acme?"},
    {"title": "Plan a follow-up", "message": "Remind me to call my contact at Acme on Friday about the demo."},
    {"title": "Log a call", "message": "Add a note to my contact at Acme: they want pricing for 20 seats."},
)
THINKING = "is thinking…"


def register(app: AsyncApp, services: Services) -> None:
    assistant = AsyncAssistant(logger=logging.getLogger("bot.slack.assistant"))

    async def thread_started(say: AsyncSay, set_suggested_prompts: AsyncSetSuggestedPrompts) -> None:
        services.background.spawn(_welcome(say, set_suggested_prompts), "assistant thread started")

    async def context_changed() -> None:
        return None  # we don't use the channel the user is viewing; Bolt's default would store it via more API calls

    async def user_message(
        payload: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, set_status: AsyncSetStatus
    ) -> None:
        user = SlackUser(str(body.get("team_id") or payload.get("team") or ""), str(payload.get("user") or ""))
        channel, thread_ts = str(payload.get("channel") or ""), str(payload.get("thread_ts") or "")
        key = ConversationKey(user.team_id, channel, thread_ts)
        reply = Reply(client, user, channel_id=channel, thread_ts=thread_ts)
        text = slack_to_plain(str(payload.get("text") or ""))
        work = answer_in_panel(services, body, key, reply, text, set_status)
        services.background.spawn(work, "assistant message")

    assistant.thread_started(thread_started)
    assistant.thread_context_changed(context_changed)
    assistant.user_message(user_message)
    app.assistant(assistant)


async def answer_in_panel(
    services: Services,
    body: Mapping[str, Any],
    key: ConversationKey,
    reply: Reply,
    text: str,
    set_status: Callable[[str], Awaitable[Any]],
) -> None:
    event_id = body.get("event_id")
    if event_id and not await services.store.deliveries.claim(f"event:{event_id}"):
        return
    agent = services.agent
    if agent is None:
        await fail(reply, "llm_not_configured", CONFIGURE_HINT)
        return
    await _status(set_status, THINKING, reply)
    try:
        surface = ThreadSurface(reply, asyncio.get_running_loop().time)
        await deliver(services, surface, lambda progress: agent.answer(reply.user, key, text, progress))
    finally:
        await _status(set_status, "", reply)  # never left spinning, whatever happened


async def _welcome(say: AsyncSay, set_suggested_prompts: AsyncSetSuggestedPrompts) -> None:
    try:
        await say(GREETING)
        await set_suggested_prompts(prompts=list(SUGGESTED_PROMPTS), title="Try asking")
    except SlackApiError as error:
        log.warning("assistant welcome failed: %s", error.response.get("error"))


async def _status(set_status: Callable[[str], Awaitable[Any]], text: str, reply: Reply) -> None:
    try:
        await set_status(text)
    except SlackApiError as error:  # a status is a courtesy: the answer matters more
        log.warning("assistant status failed for %s: %s", reply.user, error.response.get("error"))
