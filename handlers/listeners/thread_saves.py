"""Saving a Slack thread to the CRM: the "Save thread to CRM" message shortcut, and the card's buttons, note editor
and person picker. Reading the thread is handlers/slack/thread_reading.py (a mention can ask for a save too); what
is saved, and that Approve writes once, is bot/thread_saves.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.elements import to_dicts
from bot.blocks.messages import Notice
from bot.blocks.thread_save import (
    NOTE_BLOCK,
    person_block_save,
    person_options_for,
    saved_in_thread,
    thread_note_modal,
    thread_save_card,
    thread_save_text,
)
from bot.blocks.values import decode_value
from bot.crm import person_ref
from bot.identity import slack_user
from bot.ids import Action, Shortcut, View
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Failure,
    PersonOverview,
)
from bot.thread_saves import Saved, ThreadSave, ThreadSaves
from handlers.slack.options import people_matching
from handlers.slack.payloads import click_reply, clicked, clicked_value, list_at
from handlers.slack.replies import Reply, after_ack, fail, open_modal, present
from handlers.slack.thread_reading import start_save, thread_saves

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services

log = logging.getLogger(__name__)

_REFUSALS: dict[str, Notice] = {
    "missing": Notice.EXPIRED,
    "not_yours": Notice.NOT_YOUR_BUTTON,
    "already_done": Notice.ALREADY_DONE,
    "in_progress": Notice.WRITE_IN_PROGRESS,
}


def register(app: AsyncApp, services: Services) -> None:
    saves = thread_saves(services)

    async def shortcut(
        ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        message = _dict(shortcut.get("message"))
        channel = str(_dict(shortcut.get("channel")).get("id") or "")
        thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
        reply = Reply(client, slack_user(context, shortcut), channel_id=channel, thread_ts=thread_ts)
        after_ack(services, reply, start_save(services, saves, reply, None), name="save thread")

    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        after_ack(services, reply, _approve(services, saves, body, reply), name="approve thread save")

    async def cancel(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        after_ack(services, reply, _cancel(saves, body, reply), name="cancel thread save")

    async def edit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        after_ack(services, reply, _open_edit(saves, body, reply), name="edit thread note")

    async def edited(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        reply = Reply(client, slack_user(context, body))
        after_ack(services, reply, _save_edit(services, saves, view, reply), name="save thread note")

    async def ticked(ack: AsyncAck) -> None:
        await ack()  # the checkboxes are read when Approve is clicked

    async def person_picked(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        reply = click_reply(body, client, slack_user(context, body))
        after_ack(services, reply, _pick_person(services, saves, body, reply), name="pick thread person")

    async def person_options(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        query = str(body.get("value") or "").strip()
        found = await people_matching(services, slack_user(context, body), query)
        people = [(p.id, f"{p.name} · {p.email}" if p.email else p.name) for p in found]
        await ack(options=to_dicts(person_options_for(people)))

    app.shortcut(Shortcut.SAVE_THREAD.value)(shortcut)
    app.action(Action.THREAD_SAVE_APPROVE.value)(approve)
    app.action(Action.THREAD_SAVE_CANCEL.value)(cancel)
    app.action(Action.THREAD_SAVE_EDIT.value)(edit)
    app.action(Action.THREAD_SAVE_TASKS.value)(ticked)
    app.action(Action.THREAD_SAVE_PERSON.value)(person_picked)
    app.options(Action.THREAD_SAVE_PERSON.value)(person_options)
    app.view(View.THREAD_SAVE_EDIT_SUBMIT.value)(edited)


# ---- the card ----------------------------------------------------------------------------------------------------


async def _approve(services: Services, saves: ThreadSaves, body: Mapping[str, Any], reply: Reply) -> None:
    save_id = decode_value(clicked_value(body)).get("s", "")
    outcome = await saves.approve(save_id, reply.user, _ticked(body))
    if outcome.status in _REFUSALS:
        await fail(reply, _REFUSALS[outcome.status])
        return
    save = outcome.save
    if save is None:
        return
    if outcome.status == "needs_input":
        await _show_card(reply, save, "Pick the person first, then approve.")
        return
    if outcome.status in ("retry", "failed"):
        await _show_card(reply, save)
        if outcome.problem is not None:
            await present(outcome.problem, reply, services)
        return
    note = f"Not created: {', '.join(outcome.failed_tasks)}" if outcome.failed_tasks else None
    await _show_card(reply, save, note)
    if outcome.status == "done":
        written = [c.summary for c in outcome.created]
        in_thread = Reply(reply.client, reply.user, channel_id=save.channel_id, thread_ts=save.thread_ts)
        await _post(in_thread, saved_in_thread(save, written), "This thread was saved to the CRM.")


async def _cancel(saves: ThreadSaves, body: Mapping[str, Any], reply: Reply) -> None:
    outcome = await saves.cancel(decode_value(clicked_value(body)).get("s", ""), reply.user)
    if outcome.status in _REFUSALS:
        await fail(reply, _REFUSALS[outcome.status])
    elif outcome.save is not None:
        await _show_card(reply, outcome.save)


async def _open_edit(saves: ThreadSaves, body: Mapping[str, Any], reply: Reply) -> None:
    found = await saves.get(decode_value(clicked_value(body)).get("s", ""), reply.user)
    if isinstance(found, Saved):
        await fail(reply, _REFUSALS.get(found.status, Notice.EXPIRED))
        return
    if found.status != "pending":
        await fail(reply, Notice.ALREADY_DONE)
        return
    trigger = body.get("trigger_id")
    if not await open_modal(
        reply.client, str(trigger) if trigger else None, thread_note_modal(found, reply.response_url), reply.user
    ):
        await fail(reply, Notice.SLACK_ERROR)


async def _save_edit(services: Services, saves: ThreadSaves, view: Mapping[str, Any], reply: Reply) -> None:
    view_id = str(view.get("id") or "")
    if view_id and not await services.work.claim(f"view:{view_id}"):
        return
    meta = decode_value(str(view.get("private_metadata") or ""))
    values = _dict(_dict(view.get("state")).get("values"))
    note = str(_dict(_dict(values.get(NOTE_BLOCK)).get(NOTE_BLOCK)).get("value") or "").strip()
    if not note:
        await fail(reply, Notice.INVALID_INPUT, "The note is empty.")
        return
    changed = await saves.change(meta.get("s", ""), reply.user, note=note)
    if isinstance(changed, Saved):
        await fail(reply, _REFUSALS.get(changed.status, Notice.EXPIRED))
        return
    await _show_card(Reply(reply.client, reply.user, response_url=meta.get("u") or None), changed)


async def _pick_person(services: Services, saves: ThreadSaves, body: Mapping[str, Any], reply: Reply) -> None:
    action = clicked(body)
    person_id = str(_dict(action.get("selected_option")).get("value") or "")
    save_id = person_block_save(str(action.get("block_id") or ""))
    if not person_id or not save_id:
        return
    found = await services.crm.person(reply.user, person_id)
    if not isinstance(found, PersonOverview):
        if isinstance(found, ChooseCredential | ConnectNeeded | Failure):
            await present(found, reply, services)
        return
    changed = await saves.change(save_id, reply.user, person=person_ref(found, None))
    if isinstance(changed, Saved):
        await fail(reply, _REFUSALS.get(changed.status, Notice.EXPIRED))
        return
    await _show_card(reply, changed)


async def _show_card(reply: Reply, save: ThreadSave, note: str | None = None) -> None:
    """The requester's card, rewritten where it is (an ephemeral message: through the click's response_url)."""
    card = thread_save_card(save, note_line=note)
    if reply.response_url:
        body: dict[str, object] = {"replace_original": True, "text": thread_save_text(save), "blocks": to_dicts(card)}
        if await reply.send_to_response_url(body):
            return
    await reply.ephemeral(card, thread_save_text(save))


async def _post(reply: Reply, blocks: Sequence[Block], text: str) -> None:
    try:
        await reply.client.chat_postMessage(
            channel=str(reply.channel_id),
            thread_ts=reply.thread_ts,
            blocks=to_dicts(blocks),
            text=text,
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as error:
        log.warning("posting a saved thread's links failed for %s: %s", reply.user, error.response.get("error"))


def _ticked(body: Mapping[str, Any]) -> set[int] | None:
    """The task checkboxes' state sent with the click; None (all ticked) when the card had none."""
    values = _dict(_dict(body.get("state")).get("values"))
    for block in values.values():
        element = _dict(_dict(block).get(Action.THREAD_SAVE_TASKS.value))
        if element:
            chosen = list_at(element, "selected_options")
            return {int(o["value"]) for o in chosen if isinstance(o, Mapping) and str(o.get("value", "")).isdigit()}
    return None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
