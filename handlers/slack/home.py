"""Publishing a user's App Home: on opening it, and again after a click there changed what it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import RECENT_ACTIONS, home_view
from bot.identity import SlackUser
from bot.rollout.outcomes import Credentials

if TYPE_CHECKING:
    from bot.services import Services


async def publish_home(services: Services, client: AsyncWebClient, user: SlackUser, *, event_id: str | None) -> None:
    if event_id and not await services.work.claim(f"event:{event_id}"):
        return
    listed = await services.crm.credentials(user)
    # Not connected, or Rollout unreachable: the home shows no accounts and offers Connect either way.
    connected, default_id = (listed.credentials, listed.default_id) if isinstance(listed, Credentials) else ((), None)
    recent = await services.store.activity.recent(user, limit=RECENT_ACTIONS)
    following = await services.follows.following(user)
    view = home_view(connected, default_id, [(entry.text, entry.created_at) for entry in recent], following)
    await client.views_publish(user_id=user.user_id, view=view)
