"""The agent in Slack: @mentions in channels, messages in the bot's DM (the Agent view's Messages tab) and which
channel the person is looking at; the approval card's buttons and edit modal; the feedback buttons under answers.

Events are acked by Bolt before listeners run and Slack retries them (X-Slack-Retry-Num) when the ack is late, so
each listener hands off at once and the work claims the event_id first: a retry or a duplicate delivery answers once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot import feedback
from bot.agent import Agent, Decided, Edited
from bot.blocks.approvals import ApprovalStatus, approval_card, approval_edit_modal
from bot.blocks.elements import to_dicts
from bot.blocks.feedback import verdict_of
from bot.blocks.fields import read_approval_fields
from bot.blocks.messages import Notice
from bot.blocks.text import slack_to_plain
from bot.blocks.values import decode_value
from bot.identity import SlackUser, slack_user
from bot.ids import Action, View
from bot.store import ApprovalRecord, ConversationKey
from handlers.slack.agent_output import (
    CONFIGURE_HINT,
    answer_event,
    answer_target_for,
    clock,
    deliver,
    from_a_bot,
    mention_conversation,
)
from handlers.slack.agent_view import ViewingContext, answer_in_dm, authorized_user, viewed_channel
from handlers.slack.payloads import click_reply, clicked_value, object_at
from handlers.slack.replies import Reply, after_ack, fail, open_modal, present
from handlers.slack.thread_reading import log_from_mention, log_request

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services

log = logging.getLogger(__name__)

_ACTION_TS = re.compile(r"(\d{1,11})(?:\.(\d{1,6})\d*)?", re.ASCII)  # seconds (within datetime's range).micros
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_REFUSALS = {
    "missing": Notice.EXPIRED,
    "not_yours": Notice.NOT_YOUR_BUTTON,
    "already_done": Notice.ALREADY_DONE,
    "in_progress": Notice.WRITE_IN_PROGRESS,
    "expired": Notice.EXPIRED,
}


def register(app: AsyncApp, services: Services) -> None:
    viewing = ViewingContext()

    async def mentioned(
        event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        if from_a_bot(event):
            return
        user = slack_user(context, body)
        thread_ts = str(event.get("thread_ts") or event.get("ts") or "")
        channel = str(event.get("channel") or "")
        key = mention_conversation(user, channel, thread_ts)
        reply = Reply(client, user, channel_id=channel, thread_ts=thread_ts)
        text = _words(str(event.get("text") or ""), context.bot_user_id)
        asks_to_log, who = log_request(text)
        if asks_to_log and event.get("thread_ts"):  # "@Rollout log this to Ada" inside a thread
            services.background.spawn(log_from_mention(services, body, reply, who), "log thread")
            return
        # Hand off at once (before any await), so shutdown and tests see the work in services.background.
        services.background.spawn(answer_event(services, body, key, reply, text), "answer mention")

    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        after_ack(services, reply, decide_clicked(services, body, reply, approve=True), name="approve write")

    async def cancel(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        after_ack(services, reply, decide_clicked(services, body, reply, approve=False), name="cancel write")

    async def edit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        after_ack(services, reply, open_edit(services, body, reply), name="edit write")

    async def edit_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()  # closes the modal; the card shows the outcome
        reply = Reply(client, slack_user(context, body))
        after_ack(services, reply, save_edit(services, body, view, reply), name="save edited write")

    async def feedback(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        # No claim by click key: helpful, not helpful, helpful share one, and the third must count. The store keeps
        # one verdict per person and answer by click time, so a repeated delivery changes nothing.
        after_ack(services, reply, record_feedback(services, body, reply), name="answer feedback")

    async def context_changed(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        user = slack_user(context, body)
        if not user.user_id:  # Slack's example event names the person only in a user authorization
            user = SlackUser(user.team_id, authorized_user(body) or "")
        viewing.seen(user, viewed_channel(event))

    async def direct_message(
        event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        # Channels need a mention; here every person's own message in the bot's DM (the Messages tab) counts.
        if event.get("channel_type") != "im" or from_a_bot(event):
            return
        user = slack_user(context, body)
        channel = str(event.get("channel") or "")
        # Each top-level message starts a thread of its own, answered in it; a reply continues that thread.
        thread_ts = str(event.get("thread_ts") or event.get("ts") or "")
        key = ConversationKey(user.team_id, channel, thread_ts)
        reply = Reply(client, user, channel_id=channel, thread_ts=thread_ts)
        text = slack_to_plain(str(event.get("text") or ""))
        work = answer_in_dm(services, body, key, reply, text, viewing.channel_of(user))
        services.background.spawn(work, "answer DM")  # at once, so shutdown and tests see the work

    app.event("app_mention")(mentioned)
    app.event("app_context_changed")(context_changed)
    app.event("message")(direct_message)
    app.action(Action.ANSWER_FEEDBACK.value)(feedback)
    app.action(Action.APPROVAL_APPROVE.value)(approve)
    app.action(Action.APPROVAL_CANCEL.value)(cancel)
    app.action(Action.APPROVAL_EDIT.value)(edit)
    app.view(View.APPROVAL_EDIT_SUBMIT.value)(edit_submitted)


async def record_feedback(services: Services, body: Mapping[str, Any], reply: Reply) -> None:
    """Helpful / not helpful: the person's verdict on the answer (the message's channel and ts), the latest click's;
    a new or changed verdict also goes to their activity and the metrics."""
    verdict = verdict_of(clicked_value(body))
    container = object_at(body, "container")
    channel_id, message_ts = str(container.get("channel_id") or reply.channel_id or ""), container.get("message_ts")
    if verdict is None or not message_ts:
        return
    clicked_at = _action_time(body)
    change = await services.store.feedback.record(reply.user, channel_id, str(message_ts), verdict, clicked_at)
    if change == "unchanged":
        return
    words = "helpful" if verdict == "helpful" else "not helpful"
    await services.store.activity.record(reply.user, f"Rated an answer {words} ({channel_id}/{message_ts})")
    feedback.count(verdict, change)


def _action_time(body: Mapping[str, Any]) -> datetime:
    """When the person clicked (Slack's action_ts, seconds.micros); now, if Slack did not say or said nonsense."""
    actions = body.get("actions")
    action_ts = str(actions[0].get("action_ts") or "") if isinstance(actions, list) and actions else ""
    match = _ACTION_TS.fullmatch(action_ts)
    if match is None:
        return datetime.now(UTC)
    # Exact microseconds: a float would round neighbouring clicks together.
    micros = int((match.group(2) or "").ljust(6, "0"))
    return datetime.fromtimestamp(int(match.group(1)), UTC) + timedelta(microseconds=micros)


# ---- the approval card ---------------------------------------------------------------------------------------


async def decide_clicked(services: Services, body: Mapping[str, Any], reply: Reply, *, approve: bool) -> None:
    # Not de-duplicated by click: the approval's own compare-and-set and write claim make it happen once, and a
    # repeated click must be able to finish what a failed or interrupted one started.
    agent = services.agent
    if agent is None:
        await fail(reply, Notice.LLM_NOT_CONFIGURED, CONFIGURE_HINT)
        return
    approval_id = decode_value(clicked_value(body)).get("a", "")
    decided = await agent.approvals.decide(approval_id, reply.user, approve=approve)
    if decided.status in _REFUSALS:
        await fail(reply, _REFUSALS[decided.status])
        if decided.status == "expired" and decided.record is not None:
            await _update_card(body, reply, decided)
        return
    await _update_card(body, reply, decided)
    if decided.problem is not None:
        await present(decided.problem, reply, services)
    await _carry_on(services, agent, decided, reply)


async def _carry_on(services: Services, agent: Agent, decided: Decided, reply: Reply) -> None:
    """After a write ran, the model reports on it in the conversation it came from."""
    record = decided.record
    if not decided.continues or record is None or record.conversation is None:
        return
    surface = answer_target_for(record.conversation, replace(reply, thread_ts=None), clock())
    await deliver(services, surface, lambda progress: agent.continue_after(decided, progress))


async def _update_card(body: Mapping[str, Any], reply: Reply, decided: Decided) -> None:
    record, description = decided.record, decided.description
    if record is None or description is None:
        return
    status = _card_status(decided, record)
    card = approval_card(
        record.id, description.summary, description.label, description.details, status, decided.result_text
    )
    await _replace_card(body, reply, record, card, f"{description.label}: {status}")


def _card_status(decided: Decided, record: ApprovalRecord) -> ApprovalStatus:
    """A retry shows as such; otherwise the record's status once it has left pending, else what was decided."""
    if decided.status == "retry":
        return "retry"
    if record.status != "pending":
        return record.status
    match decided.status:
        case "cancelled" | "done" | "failed" | "expired" as shown:
            return shown
    raise ValueError(f"an approval card has no {decided.status!r} state")  # refusals never reach the card


async def _replace_card(
    body: Mapping[str, Any], reply: Reply, record: ApprovalRecord, card: list[Block], text: str
) -> None:
    """Rewrite the card where it is: chat.update for a message, the click's response_url for an ephemeral one."""
    container = object_at(body, "container")
    channel, ts = record.channel_id, record.message_ts
    if container.get("type") == "message" and not container.get("is_ephemeral"):
        channel, ts = container.get("channel_id") or channel, container.get("message_ts") or ts
    if channel and ts:
        try:
            await reply.client.chat_update(channel=channel, ts=ts, blocks=card, text=text)
            return
        except SlackApiError as error:
            log.warning("approval card update failed for %s: %s", reply.user, error.response.get("error"))
    if reply.response_url:
        payload: dict[str, object] = {"replace_original": True, "text": text, "blocks": to_dicts(card)}
        if await reply.send_to_response_url(payload):
            return
    await reply.ephemeral(card, text)


async def open_edit(services: Services, body: Mapping[str, Any], reply: Reply) -> None:
    agent = services.agent
    if agent is None:
        await fail(reply, Notice.LLM_NOT_CONFIGURED, CONFIGURE_HINT)
        return
    approval_id = decode_value(clicked_value(body)).get("a", "")
    form = await agent.approvals.edit_form(approval_id, reply.user)
    if isinstance(form, Edited):
        await fail(reply, _REFUSALS.get(form.status, Notice.EXPIRED))
        return
    trigger_id = body.get("trigger_id")
    modal = approval_edit_modal(approval_id, form, reply.response_url)
    if not await open_modal(reply.client, str(trigger_id) if trigger_id else None, modal, reply.user):
        await fail(reply, Notice.SLACK_ERROR)


async def save_edit(services: Services, body: Mapping[str, Any], view: Mapping[str, Any], reply: Reply) -> None:
    view_id = str(view.get("id") or "")
    if view_id and not await services.work.claim(f"view:{view_id}"):
        return
    agent = services.agent
    if agent is None:
        return
    metadata = decode_value(str(view.get("private_metadata") or ""))
    state = object_at(view, "state")
    edited = await agent.approvals.edit(metadata.get("a", ""), reply.user, read_approval_fields(state))
    record = edited.record
    where = replace(reply, channel_id=_card_channel(record), response_url=metadata.get("u") or None)
    if edited.status != "edited" or record is None or edited.description is None:
        await fail(where, _REFUSALS.get(edited.status, Notice.EXPIRED))
        return
    description = edited.description
    card = approval_card(record.id, description.summary, description.label, description.details, "pending")
    await _replace_card({}, where, record, card, f"{description.label}: waiting for your approval")


# ---- helpers -------------------------------------------------------------------------------------------------


def _card_channel(record: ApprovalRecord | None) -> str | None:
    if record is None:
        return None
    return record.channel_id or (record.conversation.channel_id if record.conversation else None) or None


def _words(text: str, bot_user_id: str | None) -> str:
    """What the user asked, without the @mention of the bot that delivered it."""
    without_bot = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)
    return slack_to_plain(without_bot)
