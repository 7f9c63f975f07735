"""Slack in/out only: Slack payloads become calls into bot/, and outcomes become Slack messages.

- `handlers/listeners/`: one module per feature, each with `register(app, services)` wiring every listener of that
  feature, whatever its kind of Slack request (command, event, action, shortcut, view, options). A listener module
  imports no other listener module.
- `handlers/slack/`: what listeners share and that registers nothing: replies, payload reading, the slash-command
  runner's Slack surface, agent answers and streaming, the Agent view, reading a thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.listeners import LISTENERS
from handlers.slack.recovery import remember_delivery

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register_all(app: AsyncApp, services: Services) -> None:
    app.use(remember_delivery)  # so the claim of any acked work can record the request (bot/work.py)
    for feature in LISTENERS:
        feature.register(app, services)
