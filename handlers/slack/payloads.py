"""Reading who acted, where, and which delivery it was from Slack's interaction payloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.identity import SlackUser
from handlers.slack.replies import Reply


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def object_at(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """payload[key] when it is a JSON object, else {}: a payload's parts are read leniently."""
    return _dict(payload.get(key))


def list_at(payload: Mapping[str, Any], key: str) -> list[Any]:
    """payload[key] when it is a JSON array, else []."""
    value = payload.get(key)
    return value if isinstance(value, list) else []


def click_reply(body: Mapping[str, Any], client: AsyncWebClient, user: SlackUser) -> Reply:
    """Answer where the click happened: the channel of the message (its thread, if it sits in one), else the DM."""
    container = _dict(body.get("container"))
    message = _dict(body.get("message"))
    channel = _dict(body.get("channel")).get("id") or container.get("channel_id")
    return Reply(
        client,
        user,
        channel_id=str(channel) if channel else None,
        response_url=body.get("response_url") or None,
        thread_ts=message.get("thread_ts") or None,
    )


def clicked(body: Mapping[str, Any]) -> Mapping[str, Any]:
    actions = body.get("actions")
    return _dict(actions[0]) if isinstance(actions, list) and actions else {}


def clicked_value(body: Mapping[str, Any]) -> str | None:
    """A button's value, or the value of the option picked in a select."""
    action = clicked(body)
    value = action.get("value") or _dict(action.get("selected_option")).get("value")
    return str(value) if value else None


def click_key(body: Mapping[str, Any]) -> str:
    """Double clicks and retries of one click share this key: the message (or view version), the button, the user.

    Value and block are part of it because one message can carry several buttons with the same action_id.
    """
    container = _dict(body.get("container"))
    view = _dict(body.get("view"))
    where = container.get("message_ts") or f"{view.get('id', '')}:{view.get('hash', '')}"
    action = clicked(body)
    who = _dict(body.get("user"))  # a key for telling deliveries apart, not an identity
    return ":".join(
        (
            "click",
            str(where),
            str(action.get("action_id", "")),
            str(action.get("block_id", "")),
            clicked_value(body) or "",
            str(who.get("team_id") or ""),
            str(who.get("id") or ""),
        )
    )


def card_thread(body: Mapping[str, Any]) -> str | None:
    """The thread a reply to a card belongs in: the card's own thread, or a new one under the card."""
    message = _dict(body.get("message"))
    if _dict(body.get("container")).get("is_ephemeral") or not message:
        return None  # an ephemeral card has no thread others could see
    thread = message.get("thread_ts") or message.get("ts") or _dict(body.get("container")).get("message_ts")
    return str(thread) if thread else None


def card_person_name(body: Mapping[str, Any]) -> str:
    """The name in the card's header, so the modal can say who it is for without another CRM call."""
    blocks = _dict(body.get("message")).get("blocks")
    if isinstance(blocks, list) and blocks:
        first = _dict(blocks[0])
        if first.get("type") == "header":
            return str(_dict(first.get("text")).get("text") or "")
    return ""
