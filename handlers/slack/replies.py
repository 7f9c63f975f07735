"""The one place that turns an outcome into Slack output, and the ways a reply reaches the person who asked.

Commands, buttons, modals, shortcuts and the agent's surfaces all end here, so an outcome reads the same wherever it
came from and the placement rules live in one module: the credential-manager link goes only into a DM, errors go only
to the person who asked, and a reply that cannot be delivered where it was meant falls back to the user's DM.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View as SlackView
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.blocks.credentials import check_dms_message
from bot.blocks.elements import to_dicts
from bot.blocks.messages import Code, Notice, error_message, help_message, user_message
from bot.blocks.outcomes import outcome_message
from bot.commands import PersonRef
from bot.identity import SlackUser
from bot.metrics import work_finished
from bot.rollout.outcomes import ChooseCredential, ConnectNeeded, Created, Outcome, PersonOverview
from bot.work import delivery_key

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# How long a request waits for the user to pick a CRM account or connect one before it must be asked again.
PARKED_REQUEST_TTL = timedelta(hours=1)
_RESPONSE_URL_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class Reply:
    """Where the answer to one request goes, and how to get it there.

    `response_url` (slash commands, clicks in messages) reaches the channel even when the bot is not a member, so it
    is tried first; then the Web API in `channel_id`; then the user's DM with the bot, which always exists.
    """

    client: AsyncWebClient
    user: SlackUser
    channel_id: str | None = None  # None: the user's DM with the bot
    response_url: str | None = None
    thread_ts: str | None = None

    async def ephemeral(self, blocks: Sequence[Block], text: str) -> None:
        """Only the user sees it, in the channel they asked from."""
        if self.response_url and not self.thread_ts and await self._via_response_url(blocks, text, "ephemeral"):
            return
        if self.channel_id and await self.call(
            "chat.postEphemeral",
            self.client.chat_postEphemeral(
                channel=self.channel_id, user=self.user.user_id, blocks=blocks, text=text, thread_ts=self.thread_ts
            ),
        ):
            return
        await self.dm(blocks, text)

    async def post(self, blocks: Sequence[Block], text: str) -> None:
        """Everyone in the channel (or thread) sees it."""
        if self.response_url and not self.thread_ts and await self._via_response_url(blocks, text, "in_channel"):
            return
        if self.channel_id and await self.call(
            "chat.postMessage",
            self.client.chat_postMessage(channel=self.channel_id, blocks=blocks, text=text, thread_ts=self.thread_ts),
        ):
            return
        await self.dm(blocks, text)

    async def dm(self, blocks: Sequence[Block], text: str) -> str | None:
        """Post into the user's DM with the bot; returns that channel's id, or None when Slack refused."""
        try:
            opened = await self.client.conversations_open(users=self.user.user_id)
            channel = str(opened["channel"]["id"])
            await self.client.chat_postMessage(channel=channel, blocks=blocks, text=text)
        except SlackApiError as error:
            _log_slack_error("DM", self.user, error)
            return None
        return channel

    async def delete_original(self) -> None:
        """Remove the message the click came from (an ephemeral picker that has done its job)."""
        if self.response_url:
            await self.send_to_response_url({"delete_original": True})

    async def _via_response_url(
        self, blocks: Sequence[Block], text: str, response_type: Literal["ephemeral", "in_channel"]
    ) -> bool:
        body = {"response_type": response_type, "replace_original": False, "text": text, "blocks": to_dicts(blocks)}
        return await self.send_to_response_url(body)

    async def send_to_response_url(self, body: Mapping[str, Any]) -> bool:
        """POST to the interaction's response_url; False when there is none or Slack refused it, so the caller falls
        back (this is the one place that talks to response_urls, with one timeout)."""
        if not self.response_url:
            return False
        try:
            webhook = AsyncWebhookClient(
                self.response_url, timeout=_RESPONSE_URL_TIMEOUT_SECONDS, session=self.client.session
            )
            sent = await webhook.send_dict(dict(body))
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("response_url failed for %s: %s", self.user, type(error).__name__)
            return False
        if sent.status_code != 200:
            # Expired (30 min) or used up (5 posts): the caller falls back to the Web API.
            log.warning("response_url refused for %s: HTTP %s", self.user, sent.status_code)
            return False
        return True

    async def call(self, method: str, call: Awaitable[Any]) -> bool:
        """Make one Web API call; False (and Slack's error code logged) when Slack refused it."""
        try:
            await call
        except SlackApiError as error:
            _log_slack_error(method, self.user, error)
            return False
        return True


async def present(
    outcome: Outcome,
    reply: Reply,
    services: Services,
    *,
    rerun: Mapping[str, Any] | None = None,
    credential_id: str | None = None,
) -> bool:
    """Show an outcome to the user who asked; False only when the connect link could not be sent (the user was told).

    rerun: the request to run again once the user has picked or connected a CRM account (parked in the store; ids
        and what the user typed, never tokens). Without it the picker or the connect DM just changes the default.
    credential_id: the account the request used, carried on pick-list buttons.
    """
    match outcome:
        case ChooseCredential():
            parked = await _park(services, reply.user, rerun)
            shown = outcome_message(outcome, parked=parked)
            await reply.ephemeral(shown.blocks, shown.text)
        case ConnectNeeded():
            return await _send_connect_link(outcome, reply, services, rerun)
        case PersonOverview():
            await show_card(outcome, reply, services)
        case Created() if reply.thread_ts:
            # A thread means the request came from a card in a channel: the confirmation joins the card's thread.
            shown = outcome_message(outcome)
            await reply.post(shown.blocks, shown.text)
        case _:
            shown = outcome_message(outcome, credential_id=credential_id)
            await reply.ephemeral(shown.blocks, shown.text)
    return True


def seen_by_others(reply: Reply) -> bool:
    """Whether a message posted where the reply goes would be seen by anyone but the user: any channel but a DM."""
    # Slack's DM channel ids start with D; every other kind of conversation can hold other people.
    return reply.channel_id is not None and not reply.channel_id.startswith("D")


async def show_card(overview: PersonOverview, reply: Reply, services: Services) -> None:
    """A person card is CRM data: only the user sees it (in a channel, with a button to share it there). It is theirs,
    so it offers Follow or Unfollow as they follow the person or not."""
    shown = outcome_message(
        overview,
        shareable=seen_by_others(reply),
        share_to_thread=reply.thread_ts,
        following=await follows_card_person(services, reply.user, overview),
    )
    await reply.ephemeral(shown.blocks, shown.text)


async def redraw_card(
    overview: PersonOverview, reply: Reply, services: Services, *, share_to_thread: str | None
) -> bool:
    """The card a click came from, drawn again in its place, its Follow or Unfollow as the user now follows them;
    False when Slack would not replace it (the response_url expired)."""
    shown = outcome_message(
        overview,
        shareable=seen_by_others(reply),
        share_to_thread=share_to_thread,
        following=await follows_card_person(services, reply.user, overview),
    )
    redrawn = {"replace_original": True, "text": shown.text, "blocks": to_dicts(shown.blocks)}
    return await reply.send_to_response_url(redrawn)


async def follows_card_person(services: Services, user: SlackUser, overview: PersonOverview) -> bool:
    """Whether the user follows the person a card shows, in the account the card came from."""
    account = overview.credential.id if overview.credential else None
    return await services.follows.is_following(user, PersonRef(overview.person.id, credential_id=account))


async def post_shared(reply: Reply, blocks: Sequence[Block], text: str) -> bool:
    """Post what the user chose to share into reply's channel (and thread), previews off; False when Slack refused.

    Never through a response_url and never falling back to a DM: sharing is into that channel or nowhere.
    """
    if reply.channel_id is None:
        return False
    return await reply.call(
        "chat.postMessage",
        reply.client.chat_postMessage(
            channel=reply.channel_id,
            thread_ts=reply.thread_ts,
            blocks=blocks,
            text=text,
            unfurl_links=False,
            unfurl_media=False,
        ),
    )


async def fail(reply: Reply, code: Code, detail: str = "") -> None:
    """An error only the asking user sees, worded for them."""
    message = user_message(code, detail)
    await reply.ephemeral(error_message(message), message)


async def show_help(reply: Reply, problem: str | None = None) -> None:
    blocks = [*error_message(problem), *help_message()] if problem else help_message()
    await reply.ephemeral(blocks, problem or "How to use /rollout")


async def open_modal(client: AsyncWebClient, trigger_id: str | None, view: SlackView, user: SlackUser) -> bool:
    """Open a modal; False when there is no trigger or it expired (Slack gives 3 s), so the caller can fall back."""
    if not trigger_id:
        return False
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        _log_slack_error("views.open", user, error)
        return False
    return True


async def message_permalink(client: AsyncWebClient, channel_id: str, message_ts: str, user: SlackUser) -> str:
    """A link back to a Slack message, or "" when Slack won't give one (the modal then simply goes without)."""
    try:
        found = await client.chat_getPermalink(channel=channel_id, message_ts=message_ts)
    except SlackApiError as error:
        _log_slack_error("chat.getPermalink", user, error)
        return ""
    return str(found.get("permalink") or "")


def after_ack(
    services: Services, reply: Reply, work: Coroutine[Any, Any, None], name: str, *, once: str | None = None
) -> None:
    """Run slow work after Slack has been acked; a crash becomes a friendly error for the user, not a traceback.

    `once` is the delivery's key: the work runs only for the first delivery to claim it (retries, double clicks). The
    claim is a database write, so it happens here, after the ack, never between Slack and its 3 seconds; it records the
    request too, so another process finishes the work if this one dies (bot/work.py).
    """

    # Without a key of its own the delivery is its own key: a redelivery is the same request, a new click is not.
    key = once if once is not None else delivery_key()

    async def guarded() -> None:
        started, outcome, began = False, "duplicate", time.monotonic()
        try:
            if key is None or await services.work.claim(key):
                started = True
                await work
                outcome = "ok"
        except Exception as error:  # the user must hear back whatever broke; the log gets the type, not the text
            outcome = "error"
            log.error("%s failed for %s: %s", name, reply.user, type(error).__name__)
            await fail(reply, Notice.INTERNAL)
        finally:
            if not started:
                work.close()  # a duplicate delivery: the first one does the work
            work_finished(name, outcome, began)

    services.background.spawn(guarded(), name=name)


async def _park(services: Services, user: SlackUser, rerun: Mapping[str, Any] | None) -> str | None:
    if rerun is None:
        return None
    return await services.store.parked.park(user, dict(rerun), PARKED_REQUEST_TTL)


async def _send_connect_link(
    needed: ConnectNeeded, reply: Reply, services: Services, rerun: Mapping[str, Any] | None
) -> bool:
    """The link embeds the user's token: it goes into their DM as a button and nowhere else, not even a log line."""
    shown = outcome_message(needed, parked=await _park(services, reply.user, rerun))
    dm_channel = await reply.dm(shown.blocks, shown.text)
    if dm_channel is None:
        await fail(reply, Notice.SLACK_ERROR)
        return False
    if reply.channel_id is not None and reply.channel_id != dm_channel:
        await reply.ephemeral(check_dms_message(), "Connect a CRM first — I've sent you a link in a DM.")
    return True


def _log_slack_error(method: str, user: SlackUser, error: SlackApiError) -> None:
    # Only Slack's error code: the exception text quotes the request, which may hold message content.
    code = error.response.get("error") if error.response is not None else None
    log.warning("Slack %s failed for %s: %s", method, user, code or "unknown")
