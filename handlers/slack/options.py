"""Options for an external select, within the 3 seconds Slack waits for them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.identity import SlackUser
from bot.rollout.outcomes import PersonSummary

if TYPE_CHECKING:
    from bot.services import Services

OPTIONS_BUDGET_SECONDS = 2.5  # Slack waits 3 s for options; leave room for the answer to travel
MIN_QUERY = 2  # fewer characters match too many people to be worth a CRM call


async def people_matching(services: Services, user: SlackUser, query: str) -> list[PersonSummary]:
    """People matching what the user typed, or none when the query is too short or the CRM is slower than Slack waits.

    The search runs as background work and is not cancelled on timeout, so a slow Rollout call finishes cleanly
    instead of being torn down mid-request.
    """
    if len(query) < MIN_QUERY:
        return []
    search = services.background.spawn(services.crm.search_people(user, query), name="person search")
    done, _ = await asyncio.wait({search}, timeout=OPTIONS_BUDGET_SECONDS)
    if not done or search.exception() is not None:
        return []
    found = search.result()
    return found if isinstance(found, list) else []
