"""Slack in/out only. Each module exposes `register(app, services)`; no business logic, no raw Block Kit dicts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers import actions, assistant, commands, events, home, lifecycle, shortcuts, threads, views

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services

SURFACES = (commands, actions, views, shortcuts, threads, home, events, assistant, lifecycle)


def register_all(app: AsyncApp, services: Services) -> None:
    for surface in SURFACES:
        surface.register(app, services)
