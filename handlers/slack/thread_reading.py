"""Reading a Slack thread and proposing to save it: shared by the "Save thread to CRM" shortcut and "@Rollout log
this to Ada" (a mention). Registers nothing.

The bot reads the whole thread (conversations.replies, page by page; the web client waits out a 429's Retry-After),
skips bots and joins, names the authors, marks people from other organisations as external, and hands the messages
to bot/thread_saves.py, which finds the person and drafts. The card is visible to the requester only.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.elements import section
from bot.blocks.messages import Notice
from bot.blocks.text import slack_to_plain
from bot.blocks.thread_save import thread_save_card, thread_save_text
from bot.identity import SlackUser
from bot.thread_saves import NothingToSave, Proposal, ThreadMessage, ThreadSaves
from handlers.slack.replies import Reply, fail, present

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

PAGE_SIZE = 200  # conversations.replies messages per page (Slack allows up to 1000; fewer keeps each call light)
MAX_PAGES = 50  # 10,000 messages: beyond that a thread is not a conversation to log
INVITE_FIRST = "I can't read that channel — invite @Rollout to this channel first, then try again."
NOTHING_NEW = "This thread is already saved to your CRM, and nothing was added since."
EMPTY_THREAD = "There's nothing in this thread for me to save."
READING_SLOWLY = "This is a long thread, and Slack lets me read it only slowly"
VERBATIM_BECAUSE = {
    Notice.LLM_BUDGET: "You've used today's assistant allowance, so the note is the thread itself rather than a "
    "summary; drafting works again after midnight UTC.",
    Notice.LLM_BUDGET_TEAM: "This workspace has used today's assistant allowance, so the note is the thread itself "
    "rather than a summary; drafting works again after midnight UTC.",
}
LOG_REQUEST = re.compile(
    r"^\s*(?:please\s+)?(?:log|save)\s+(?:this|this thread|the thread)(?:\s+(?:to|for|on)\s+(?P<who>.+?))?\s*[.!]?\s*$",
    re.I,
)
_NOT_READABLE = frozenset({"not_in_channel", "channel_not_found", "thread_not_found", "missing_scope"})
_SKIPPED_SUBTYPES = frozenset({"channel_join", "channel_leave", "group_join", "group_leave", "bot_message"})


def log_request(text: str) -> tuple[bool, str | None]:
    """Whether a mention asks to log its thread ("log this to Ada"), and who to, when named."""
    found = LOG_REQUEST.match(text)
    if not found:
        return False, None
    who = (found.group("who") or "").strip()
    return True, who or None


def thread_saves(services: Services) -> ThreadSaves:
    ttl = timedelta(seconds=services.settings.approval_ttl_seconds)
    model = services.agent.model if services.agent is not None else None
    return ThreadSaves(services.store, services.crm, ttl, model)


async def log_from_mention(services: Services, body: Mapping[str, Any], reply: Reply, who: str | None) -> None:
    """ "@Rollout log this to Ada" in a thread: the same card as the shortcut, once per event."""
    event_id = body.get("event_id")
    if event_id and not await services.store.deliveries.claim(f"event:{event_id}"):
        return
    await start_save(services, thread_saves(services), reply, who)


@dataclass(frozen=True, slots=True)
class _Unreadable:
    """Slack would not let the bot read the thread (a private channel it is not in, or gone)."""


@dataclass(frozen=True, slots=True)
class _SlackBusy:
    """Slack refused for another reason (still rate limited after waiting, an outage): try again later."""


async def start_save(services: Services, saves: ThreadSaves, reply: Reply, who: str | None) -> None:
    """Read the thread in `reply` (channel + thread_ts) and show the requester the proposed save."""
    assert reply.channel_id and reply.thread_ts

    async def slowly(minutes: int) -> None:
        text = f"{READING_SLOWLY} — about {minutes} minute{'s' if minutes != 1 else ''}. The card follows here."
        await reply.ephemeral([section(text)], text)

    read = await read_thread(reply.client, reply.channel_id, reply.thread_ts, reply.user, slowly)
    if isinstance(read, _Unreadable):
        await reply.ephemeral([section(INVITE_FIRST)], INVITE_FIRST)
        return
    if isinstance(read, _SlackBusy):
        await fail(reply, Notice.SLACK_ERROR)
        return
    proposed = await saves.propose(reply.user, reply.channel_id, reply.thread_ts, read, who)
    if isinstance(proposed, NothingToSave):
        text = NOTHING_NEW if proposed.already_saved else EMPTY_THREAD
        await reply.ephemeral([section(text)], text)
    elif isinstance(proposed, Proposal):
        why = VERBATIM_BECAUSE.get(proposed.verbatim_because) if proposed.verbatim_because else None
        await reply.ephemeral(thread_save_card(proposed.save, note_line=why), thread_save_text(proposed.save))
    else:
        await present(proposed, reply, services)


async def read_thread(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str,
    user: SlackUser,
    slowly: Callable[[int], Awaitable[None]] | None = None,
) -> list[ThreadMessage] | _Unreadable | _SlackBusy:
    """Every message people wrote in the thread, oldest first, with names for the authors.

    Slack gives apps distributed outside its Marketplace 15 messages a page and a page a minute (the web client waits
    out each 429): a long thread then takes minutes, so `slowly` hears once, with the minutes still to go.
    """
    raw: list[Mapping[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        try:
            page = await client.conversations_replies(channel=channel, ts=thread_ts, limit=PAGE_SIZE, cursor=cursor)
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            log.info("reading a thread failed for %s: %s", user, code)
            return _Unreadable() if code in _NOT_READABLE else _SlackBusy()
        got = [m for m in page.get("messages") or [] if isinstance(m, Mapping)]
        cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "") or None
        if not raw and cursor and 0 < len(got) < PAGE_SIZE and slowly is not None:
            total = int(got[0].get("reply_count") or 0) + 1
            await slowly(max(math.ceil((total - len(got)) / len(got)), 1))
        raw += got
        if not cursor:
            break
    names = _Names(client)
    messages = []
    for message in raw:
        if message.get("bot_id") or message.get("subtype") in _SKIPPED_SUBTYPES or not message.get("user"):
            continue
        text = slack_to_plain(await names.mentions(str(message.get("text") or ""))).strip()
        if not text:
            continue
        external = bool(message.get("team")) and message.get("team") != user.team_id
        author = await names.of(str(message["user"]))
        messages.append(ThreadMessage(str(message.get("ts") or ""), author, text, external))
    return messages


class _Names:
    """users.info once per person in a thread, however often they wrote."""

    _MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._known: dict[str, str] = {}

    async def of(self, user_id: str) -> str:
        if user_id not in self._known:
            try:
                info = (await self._client.users_info(user=user_id)).get("user") or {}
                profile = info.get("profile") or {}
                name = (
                    profile.get("real_name") or info.get("real_name") or profile.get("display_name") or info.get("name")
                )
                self._known[user_id] = str(name or user_id)
            except SlackApiError:
                self._known[user_id] = user_id
        return self._known[user_id]

    async def mentions(self, text: str) -> str:
        for user_id in dict.fromkeys(self._MENTION.findall(text)):
            name = await self.of(user_id)
            text = re.sub(rf"<@{user_id}(?:\|[^>]*)?>", f"@{name}", text)
        return text
