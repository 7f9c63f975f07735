"""Slack's Agent messaging experience (`agent_view`): the app's Messages tab is where people talk to the agent.

Following Slack's migration guide: opening the Messages tab (`app_home_opened` with `tab == "messages"`) shows the
suggested prompts, set without a thread_ts (an agent app's prompts belong to the DM, not to a thread); every
top-level message there starts a thread of its own, answered (streamed) in that thread; and
`app_context_changed` says which channel the person is looking at, which the agent gets as context with their next
message ("this channel's customer").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.text import clean
from bot.identity import SlackUser
from bot.store import ConversationKey
from handlers.slack.agent_output import answer_event
from handlers.slack.payloads import list_at, object_at
from handlers.slack.replies import Reply

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

PROMPTS_TITLE = "Try asking"
SUGGESTED_PROMPTS: tuple[dict[str, str], ...] = (
    {"title": "Catch up on a lead", "message": "What's new with my contact at Acme?"},
    {"title": "Plan a follow-up", "message": "Remind me to call my contact at Acme on Friday about the demo."},
    {"title": "Log a call", "message": "Add a note to my contact at Acme: they want pricing for 20 seats."},
    {"title": "This channel's customer", "message": "Who is the customer this channel is about, and what's new?"},
)
_REMEMBERED_VIEWERS = 10_000  # people whose current channel is kept; the least recently seen forgotten first


class ViewingContext:
    """Which channel each person last looked at while the agent was open.

    Kept in memory on purpose: it is a hint that Slack sends again whenever it changes, not state that must survive a
    restart or be shared — a process that never saw it just answers without it.
    """

    def __init__(self, limit: int = _REMEMBERED_VIEWERS) -> None:
        self._channels: LRUCache[SlackUser, str] = LRUCache(maxsize=limit)

    def seen(self, user: SlackUser, channel_id: str | None) -> None:
        self._channels.pop(user, None)
        if channel_id:
            self._channels[user] = channel_id

    def channel_of(self, user: SlackUser) -> str | None:
        return self._channels.get(user)


async def answer_in_dm(
    services: Services,
    body: Mapping[str, Any],
    key: ConversationKey,
    reply: Reply,
    text: str,
    viewing_channel: str | None,
) -> None:
    if services.agent is not None and text.strip():
        text = await with_viewing_context(reply.client, viewing_channel, text)
    await answer_event(services, body, key, reply, text)


async def show_prompts(services: Services, client: AsyncWebClient, channel_id: str, *, event_id: str | None) -> None:
    """The suggested prompts of the Messages tab; once per opening, however often Slack delivers it."""
    if event_id and not await services.work.claim(f"event:{event_id}"):
        return
    try:
        await client.assistant_threads_setSuggestedPrompts(
            channel_id=channel_id, prompts=list(SUGGESTED_PROMPTS), title=PROMPTS_TITLE
        )
    except SlackApiError as error:  # prompts are a courtesy: the person can type anyway
        log.warning("suggested prompts failed: %s", error.response.get("error"))


async def with_viewing_context(client: AsyncWebClient, channel_id: str | None, text: str) -> str:
    """The person's words, preceded by the channel they are looking at (by name when Slack tells us)."""
    if not channel_id:
        return text
    name = channel_id
    try:
        info = await client.conversations_info(channel=channel_id)
        name = f"#{clean(str(info['channel'].get('name') or channel_id), single_line=True)}"
    except SlackApiError as error:  # a channel the bot can't see: its id is still a hint
        log.info("channel name unavailable: %s", error.response.get("error"))
    return f"(Context from Slack: the user is looking at the channel {name} while asking.)\n\n{text}"


def viewed_channel(event: Mapping[str, Any]) -> str | None:
    """The most relevant channel in an app_context_changed event (Slack orders the entities by relevance)."""
    entities = list_at(object_at(event, "context"), "entities")
    for entity in entities:
        if isinstance(entity, Mapping) and entity.get("type") == "slack#/types/channel_id" and entity.get("value"):
            return str(entity["value"])
    return None


def authorized_user(body: Mapping[str, Any]) -> str | None:
    """Slack's example event carries no user: the authorization of a user (not the bot) names them."""
    authorizations = list_at(body, "authorizations")
    for authorization in authorizations:
        if isinstance(authorization, Mapping) and not authorization.get("is_bot") and authorization.get("user_id"):
            return str(authorization["user_id"])
    return None
