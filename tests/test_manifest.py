"""manifest.yml, the listeners the app registers and bot/ids.py agree, both ways.

Each manifest entry and each registry id becomes a request shaped like Slack's; the check asks the app's own listener
matchers which of them would handle it. So a listener nobody declared, a declared feature nobody handles, and an id
with no listener all fail here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.app import SLACK_PATH
from bot.ids import SLASH_COMMAND, Action, Shortcut, View
from tests.harness import AppHarness

MANIFEST: dict[str, Any] = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yml").read_text())
FEATURES, SETTINGS = MANIFEST["features"], MANIFEST["settings"]
BOT_SCOPES = set(MANIFEST["oauth_config"]["scopes"]["bot"])

_EVENT_SCOPES = {"app_mention": "app_mentions:read", "message.im": "im:history"}


# ---- Slack-shaped requests ----------------------------------------------------------------------------------------

_WHO = {"team": {"id": "T1"}, "user": {"id": "U1", "team_id": "T1"}, "api_app_id": "A1", "trigger_id": "1.2.3"}


def _command(name: str) -> dict[str, Any]:
    return {"command": name, "text": "help", "team_id": "T1", "user_id": "U1", "channel_id": "C1", "trigger_id": "t"}


def _shortcut(callback_id: str) -> dict[str, Any]:
    message = {"type": "message", "ts": "1.1", "text": "hi", "user": "U2"}
    return {"type": "message_action", "callback_id": callback_id, "channel": {"id": "C1"}, "message": message, **_WHO}


def _event(name: str) -> dict[str, Any]:
    base = {"user": "U1", "channel": "D1", "ts": "1.1", "event_ts": "1.1"}
    event = {
        "app_home_opened": {"type": "app_home_opened", "tab": "home", **base},
        "app_mention": {"type": "app_mention", "text": "<@U0BOT> hi", **base},
        "message.im": {"type": "message", "channel_type": "im", "text": "hi", **base},
        "app_context_changed": {
            "type": "app_context_changed",
            "user": "U1",
            "context": {"entities": [{"type": "slack#/types/channel_id", "value": "C1", "team_id": "T1"}]},
        },
    }.get(name, {"type": name, **base})
    return {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "Ev1", "event": event}


def _action(action_id: str) -> dict[str, Any]:
    action = {"action_id": action_id, "block_id": "b", "type": "button", "value": "{}", "action_ts": "1.1"}
    container = {"type": "message", "message_ts": "1.1", "channel_id": "C1"}
    return {"type": "block_actions", "actions": [action], "container": container, "channel": {"id": "C1"}, **_WHO}


def _submission(callback_id: str) -> dict[str, Any]:
    view = {"id": "V1", "type": "modal", "callback_id": callback_id, "private_metadata": "", "state": {"values": {}}}
    return {"type": "view_submission", "view": view, **_WHO}


def _suggestion(action_id: str) -> dict[str, Any]:
    return {"type": "block_suggestion", "action_id": action_id, "block_id": action_id, "value": "ad", **_WHO}


def _messages_tab_opened() -> dict[str, Any]:
    """The Agent view: opening the app's Messages tab, where people talk to the agent."""
    body = _event("app_home_opened")
    body["event"] = {**body["event"], "tab": "messages"}
    return body


async def _handlers_of(app: AsyncApp, body: dict[str, Any]) -> int:
    """How many of the app's listeners (or its assistant middleware) would take this request."""
    request = AsyncBoltRequest(body=body, mode="socket_mode")
    matched = 0
    for listener in app._async_listeners:
        matched += await listener.async_matches(req=request, resp=BoltResponse(status=200))
    return matched


MANIFEST_REQUESTS: list[Any] = [
    *(pytest.param(_command(c["command"]), id=f"command {c['command']}") for c in FEATURES["slash_commands"]),
    *(pytest.param(_shortcut(s["callback_id"]), id=f"shortcut {s['callback_id']}") for s in FEATURES["shortcuts"]),
    *(pytest.param(_event(e), id=f"event {e}") for e in SETTINGS["event_subscriptions"]["bot_events"]),
    pytest.param(_messages_tab_opened(), id="event app_home_opened (messages tab)"),
]
# The person select sits in an input block: Slack asks it for options and sends no click for it.
CLICKABLE = [a for a in Action if a is not Action.PERSON_SELECT]
REGISTRY_REQUESTS: list[Any] = [
    *(pytest.param(_action(a), id=f"action {a}") for a in CLICKABLE),
    *(pytest.param(_submission(v), id=f"view {v}") for v in View),
    *(pytest.param(_shortcut(s), id=f"shortcut {s}") for s in Shortcut),
    pytest.param(_command(SLASH_COMMAND), id=f"command {SLASH_COMMAND}"),
    pytest.param(_suggestion(Action.PERSON_SELECT), id=f"options {Action.PERSON_SELECT}"),
    pytest.param(_suggestion(Action.THREAD_SAVE_PERSON), id=f"options {Action.THREAD_SAVE_PERSON}"),
]


@pytest.mark.parametrize("body", MANIFEST_REQUESTS)
async def test_everything_the_manifest_declares_has_a_listener(app_harness: AppHarness, body: dict[str, Any]) -> None:
    assert await _handlers_of(app_harness.app, body) >= 1


@pytest.mark.parametrize("body", REGISTRY_REQUESTS)
async def test_every_registry_id_has_exactly_one_listener(app_harness: AppHarness, body: dict[str, Any]) -> None:
    assert await _handlers_of(app_harness.app, body) == 1


async def test_every_listener_serves_something_the_manifest_or_registry_declares(app_harness: AppHarness) -> None:
    declared = [
        _command(SLASH_COMMAND),
        *(_shortcut(s) for s in Shortcut),
        *(_event(e) for e in SETTINGS["event_subscriptions"]["bot_events"]),
        *(_action(a) for a in CLICKABLE),
        *(_submission(v) for v in View),
        _suggestion(Action.PERSON_SELECT),
        _suggestion(Action.THREAD_SAVE_PERSON),  # the person select on a thread's save card (a message)
    ]
    requests = [AsyncBoltRequest(body=body, mode="socket_mode") for body in declared]
    for listener in app_harness.app._async_listeners:
        serves = [await listener.async_matches(req=r, resp=BoltResponse(status=200)) for r in requests]
        assert any(serves), f"{listener.ack_function.__name__} handles nothing manifest.yml or bot/ids.py declares"


def test_manifest_declares_the_registry_and_nothing_else() -> None:
    assert [c["command"] for c in FEATURES["slash_commands"]] == [SLASH_COMMAND]
    assert {s["callback_id"] for s in FEATURES["shortcuts"]} == {s.value for s in Shortcut}
    assert all(s["type"] == "message" and len(s["name"]) <= 24 for s in FEATURES["shortcuts"])


def test_every_request_url_is_the_one_endpoint() -> None:
    urls = [
        *(c["url"] for c in FEATURES["slash_commands"]),
        SETTINGS["event_subscriptions"]["request_url"],
        SETTINGS["interactivity"]["request_url"],
        SETTINGS["interactivity"]["message_menu_options_url"],
    ]
    assert urls and all(url == f"https://YOUR-HOST{SLACK_PATH}" for url in urls)
    assert SETTINGS["interactivity"]["is_enabled"] is True


def test_scopes_cover_the_features_and_events() -> None:
    needed = {"commands", "chat:write", "im:write", "users:read", "assistant:write", "channels:read"}
    needed |= {"channels:history", "groups:history"}  # conversations.replies: saving a thread to the CRM
    needed |= {_EVENT_SCOPES[e] for e in SETTINGS["event_subscriptions"]["bot_events"] if e in _EVENT_SCOPES}
    assert needed <= BOT_SCOPES
    # Slack's Agent messaging experience replaces the assistant panel, which is to be deprecated.
    assert FEATURES["agent_view"]["agent_description"] and "assistant_view" not in FEATURES
    assert FEATURES["app_home"]["home_tab_enabled"] and FEATURES["app_home"]["messages_tab_enabled"]
