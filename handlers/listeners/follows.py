"""Following people and their reminders, from buttons: Follow and Unfollow (a card, the list of people followed, App
Home), the morning digest's on/off switch, and a task reminder's Snooze and Done.

Every click runs as the user who clicked and is claimed after the ack (message or view + action + value + user), so a
double click acts once. A click in the list of people followed, or on App Home, refreshes what was clicked; anything
else is answered beside it, to the clicker alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.elements import Message, to_dicts
from bot.blocks.follows import (
    following_list,
    reminder_dismissed_message,
    reminder_gone_message,
    reminder_snoozed_message,
)
from bot.blocks.messages import Notice
from bot.blocks.outcomes import outcome_message
from bot.blocks.values import decode_value
from bot.commands import PersonRef
from bot.identity import slack_user
from bot.ids import Action
from bot.rollout.outcomes import Followed, PersonOverview, ReminderGone
from handlers.slack.home import publish_home
from handlers.slack.payloads import click_key, click_reply, clicked_value, object_at
from handlers.slack.replies import Reply, after_ack, fail, present, redraw_card

if TYPE_CHECKING:
    from collections.abc import Mapping

    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


# What a click on Follow or Unfollow does, after the ack: given the click's body and its button's ids.
PersonClick = Callable[["Services", Reply, "Mapping[str, Any]", "Mapping[str, str]"], Coroutine[Any, Any, None]]


def register(app: AsyncApp, services: Services) -> None:
    def about_a_person(work: PersonClick, name: str) -> Callable[..., Awaitable[None]]:
        """Follow or Unfollow: its button names the person (p, and c their account)."""

        async def clicked(
            ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
        ) -> None:
            await ack()
            ids = decode_value(clicked_value(body))
            reply = click_reply(body, client, slack_user(context, body))
            if not ids.get("p"):
                after_ack(services, reply, fail(reply, Notice.EXPIRED), name=name)
                return
            after_ack(services, reply, work(services, reply, body, ids), name=name, once=click_key(body))

        return clicked

    async def switch_digest(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        value = clicked_value(body)
        reply = click_reply(body, client, slack_user(context, body))
        if value not in ("on", "off"):
            after_ack(services, reply, fail(reply, Notice.EXPIRED), name="digest switch")
            return
        work = _switch_digest(services, reply, body, on=value == "on")
        after_ack(services, reply, work, name="digest switch", once=click_key(body))

    def reminder(done: bool, name: str) -> Callable[..., Awaitable[None]]:
        async def clicked(
            ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
        ) -> None:
            await ack()
            key = clicked_value(body)
            reply = click_reply(body, client, slack_user(context, body))
            if not key:
                after_ack(services, reply, fail(reply, Notice.EXPIRED), name=name)
                return
            after_ack(
                services, reply, _reminder(services, reply, body, key, done=done), name=name, once=click_key(body)
            )

        return clicked

    app.action(Action.PERSON_FOLLOW.value)(about_a_person(_follow, "follow"))
    app.action(Action.PERSON_UNFOLLOW.value)(about_a_person(_unfollow, "unfollow"))
    app.action(Action.DIGEST_SWITCH.value)(switch_digest)
    app.action(Action.REMINDER_SNOOZE.value)(reminder(False, "snooze reminder"))
    app.action(Action.REMINDER_DONE.value)(reminder(True, "dismiss reminder"))


async def _follow(services: Services, reply: Reply, body: Mapping[str, Any], ids: Mapping[str, str]) -> None:
    person = PersonRef(ids["p"], credential_id=ids.get("c") or None)
    # Read as the clicker first: only someone their own CRM access shows them can be followed.
    outcome = await services.follows.follow_person(reply.user, person)
    if isinstance(outcome, Followed) and outcome.overview is not None and ids.get("k"):
        await redraw_card(outcome.overview, reply, services, share_to_thread=ids.get("t"))  # it now offers Unfollow
    await present(outcome, reply, services, credential_id=person.credential_id)


async def _unfollow(services: Services, reply: Reply, body: Mapping[str, Any], ids: Mapping[str, str]) -> None:
    outcome = await services.follows.unfollow(reply.user, ids.get("c") or "", ids["p"])
    if _on_home(body):
        await publish_home(services, reply.client, reply.user, event_id=None)
    elif ids.get("l"):  # clicked in the list of people followed: that list, without them
        await _replace(reply, body, following_list(await services.follows.following(reply.user)))
    else:
        if ids.get("k"):  # the card's own button: the card, read again, now offers Follow
            found = await services.crm.person(reply.user, ids["p"], credential_id=ids.get("c") or None)
            if isinstance(found, PersonOverview):
                await redraw_card(found, reply, services, share_to_thread=ids.get("t"))
        await present(outcome, reply, services)


async def _switch_digest(services: Services, reply: Reply, body: Mapping[str, Any], *, on: bool) -> None:
    switched = await services.follows.switch_digest(reply.user, on)
    if _on_home(body):
        await publish_home(services, reply.client, reply.user, event_id=None)
    elif object_at(body, "container").get("type") == "message":  # the switch sits under the list of people followed
        await _replace(reply, body, following_list(await services.follows.following(reply.user)))
    else:
        shown = outcome_message(switched)
        await reply.ephemeral(shown.blocks, shown.text)


async def _reminder(services: Services, reply: Reply, body: Mapping[str, Any], key: str, *, done: bool) -> None:
    # The store finds the reminder by key and clicker together: someone else's click finds nothing to change.
    if done:
        dismissed = await services.reminders.dismiss(reply.user, key)
        shown = (
            reminder_gone_message(dismissed)
            if isinstance(dismissed, ReminderGone)
            else reminder_dismissed_message(dismissed)
        )
    else:
        snoozed = await services.reminders.snooze(reply.user, key)
        shown = (
            reminder_gone_message(snoozed) if isinstance(snoozed, ReminderGone) else reminder_snoozed_message(snoozed)
        )
    await _replace(reply, body, shown)


def _on_home(body: Mapping[str, Any]) -> bool:
    return object_at(body, "container").get("type") == "view" and object_at(body, "view").get("type") == "home"


async def _replace(reply: Reply, body: Mapping[str, Any], message: Message) -> None:
    """Put `message` in place of the one clicked: through the click's response_url, else chat.update on a message
    everyone sees; an ephemeral message that can no longer be replaced gets the answer beside it."""
    answer = {"replace_original": True, "text": message.text, "blocks": to_dicts(message.blocks)}
    if await reply.send_to_response_url(answer):
        return
    container = object_at(body, "container")
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if channel and ts and not container.get("is_ephemeral"):
        update = reply.client.chat_update(channel=str(channel), ts=str(ts), blocks=message.blocks, text=message.text)
        if await reply.call("chat.update", update):
            return
    await reply.ephemeral(message.blocks, message.text)
