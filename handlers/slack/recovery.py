"""Acked work taken over from a process that died (bot/work.py): the Slack request is handled again, as if Slack had
delivered it to this process, wherever that is safe; where it is not, the person is told what happened.

- a read (a card, the accounts, help, a picker) runs again and answers where the original would have — through the
  request's response_url while it is valid (30 minutes), else by an ephemeral message or the DM;
- an agent turn first closes the answer it had started with one line saying it was interrupted, then runs again from
  the stored conversation; if it had proposed a write, that approval card is the answer instead;
- a write that may have reached the CRM is never sent again: the person is asked to check;
- after three attempts the person is told it failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.agent import PendingApproval
from bot.blocks.elements import section
from bot.identity import slack_user
from bot.store.deliveries import Delivery, UnfinishedWork
from bot.work import MAX_ATTEMPTS, current_delivery, recovering, stop_recovering
from handlers.slack.agent_output import clock, post_approval, thread_answer
from handlers.slack.replies import Reply

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services

log = logging.getLogger(__name__)

SOCKET_MODE = "socket-mode"  # the content type recorded for a Socket Mode delivery (its body is JSON)
RESPONSE_URL_LIFETIME = timedelta(minutes=30)
INTERRUPTED_WRITE = (
    "I was restarted while saving your change, so I can't tell whether it reached your CRM — check there before "
    "trying again."
)
GAVE_UP = "Sorry — I couldn't finish that request, even after trying again. Please try it once more in a moment."
INTERRUPTED_ANSWER = "(I was interrupted here — answering again below.)"


async def remember_delivery(req: AsyncBoltRequest, next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse | None:
    """Bolt middleware: the request as it arrived, for the claim that records the work its ack promises."""
    if req.mode == "socket_mode":
        delivery = Delivery(json.dumps(req.body), SOCKET_MODE)
    else:
        delivery = Delivery(req.raw_body, (req.headers.get("content-type") or [""])[0])
    # Left set: Bolt runs the listeners after this returns, in this same task (one per request), which is what
    # they read it from.
    current_delivery.set(delivery)
    return await next()


def recoverer(app: AsyncApp, services: Services) -> Callable[[UnfinishedWork], Awaitable[None]]:
    async def recover(work: UnfinishedWork) -> None:
        if work.delivery is None:  # no key opens it any more: nothing can be done, or said
            await services.work.give_up(work)
            return
        fresh = datetime.now(UTC) - work.claimed_at < RESPONSE_URL_LIFETIME
        request = _request(work.delivery, keep_response_url=fresh)
        if work.attempts > MAX_ATTEMPTS:
            log.warning("acked work %s failed %d times: giving up", work.digest[:12], MAX_ATTEMPTS)
            await _tell(app, services, request, GAVE_UP)
            await services.work.give_up(work)
            return
        if work.facts.get("write"):
            await _tell(app, services, request, INTERRUPTED_WRITE)
            await services.work.settled(work)
            return
        answer = work.facts.get("answer")
        if isinstance(answer, Mapping):
            await _close_answer(app, services, request, answer)
        approval_id = work.facts.get("approval")
        if isinstance(approval_id, str) and await _show_approval(app, services, request, approval_id):
            await services.work.settled(work)
            return
        token = recovering(work.digest)
        try:
            await app.async_dispatch(request)
        finally:
            stop_recovering(token)

    return recover


def _request(delivery: Delivery, *, keep_response_url: bool) -> AsyncBoltRequest:
    if delivery.content_type == SOCKET_MODE:
        body: dict[str, Any] = json.loads(delivery.body)
        if not keep_response_url:
            body.pop("response_url", None)
        return AsyncBoltRequest(body=body, mode="socket_mode")
    raw = delivery.body
    if not keep_response_url:
        raw = _without_response_url(raw, delivery.content_type)
    return AsyncBoltRequest(body=raw, headers={"content-type": [delivery.content_type]})


def _without_response_url(raw: str, content_type: str) -> str:
    """The request without its response_url, which Slack honours for 30 minutes: answers then go another way."""
    if content_type.startswith("application/json"):
        return raw  # events carry none
    form = dict(parse_qsl(raw, keep_blank_values=True))
    form.pop("response_url", None)
    if "payload" in form:
        payload = json.loads(form["payload"])
        payload.pop("response_url", None)
        form["payload"] = json.dumps(payload)
    return urlencode(form)


async def _reply_for(app: AsyncApp, services: Services, request: AsyncBoltRequest) -> Reply | None:
    context = request.context
    client = await _client_for(app, services, context)
    if client is None or not (context.user_id or context.actor_user_id):
        return None
    thread = context.thread_ts
    return Reply(
        client,
        slack_user(context, request.body),
        channel_id=context.channel_id,
        response_url=context.response_url,
        thread_ts=thread,
    )


async def _tell(app: AsyncApp, services: Services, request: AsyncBoltRequest, text: str) -> None:
    reply = await _reply_for(app, services, request)
    if reply is not None:
        await reply.ephemeral([section(text)], text)


async def _close_answer(
    app: AsyncApp, services: Services, request: AsyncBoltRequest, answer: Mapping[str, Any]
) -> None:
    """End the answer the interrupted turn had started, so it doesn't stay "Thinking…" for ever."""
    client = await _client_for(app, services, request.context)
    channel, ts = str(answer.get("channel") or ""), str(answer.get("ts") or "")
    if client is None or not channel or not ts:
        return
    try:
        if answer.get("streamed"):
            await client.chat_stopStream(channel=channel, ts=ts, markdown_text=INTERRUPTED_ANSWER)
        else:
            await client.chat_update(channel=channel, ts=ts, text=INTERRUPTED_ANSWER, blocks=[])
    except SlackApiError as error:  # Slack may have closed it already
        log.info("closing an interrupted answer failed: %s", error.response.get("error"))


async def _show_approval(app: AsyncApp, services: Services, request: AsyncBoltRequest, approval_id: str) -> bool:
    """The approval the interrupted turn proposed, shown once: it is that turn's answer. False when there is none."""
    record = await services.store.approvals.get(approval_id)
    if record is None or services.agent is None:
        return False
    if record.status == "pending" and record.message_ts is None:
        reply = await _reply_for(app, services, request)
        if reply is None:
            return False
        description = await services.agent.approvals.describe(record)
        await post_approval(services, thread_answer(reply, clock()), PendingApproval(record, description))
    return True


async def _client_for(app: AsyncApp, services: Services, context: Mapping[str, Any]) -> AsyncWebClient | None:
    """The app's Web API client with the bot token of the request's workspace."""
    if services.installations is None:
        return app.client
    bot = await services.installations.async_find_bot(
        enterprise_id=context.get("enterprise_id"),
        team_id=context.get("team_id"),
        is_enterprise_install=bool(context.get("is_enterprise_install")),
    )
    if bot is None or not bot.bot_token:
        return None
    return AsyncWebClient(token=bot.bot_token, base_url=app.client.base_url, session=app.client.session)
