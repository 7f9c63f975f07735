"""Who is in a channel, as far as sharing CRM data there goes: whether people from outside the workspace are in it."""

from __future__ import annotations

import logging

import aiohttp
from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# A channel becomes Slack Connect (or stops being one) rarely; a few minutes' staleness is the price of not asking
# Slack on every share. Bounded: one entry per channel anyone shared into lately.
_AUDIENCE_TTL_SECONDS = 300
_AUDIENCE_CHANNELS = 4096


class ChannelAudiences:
    def __init__(self, *, ttl_seconds: float = _AUDIENCE_TTL_SECONDS, maxsize: int = _AUDIENCE_CHANNELS) -> None:
        self._external: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=ttl_seconds)

    async def has_outsiders(self, client: AsyncWebClient, channel_id: str) -> bool:
        """Whether people outside the workspace may see what is posted in the channel (conversations.info's
        is_ext_shared). A channel Slack will not describe counts as shared: asking once too often is the safe side."""
        known = self._external.get(channel_id)
        if known is not None:
            return known
        try:
            info = await client.conversations_info(channel=channel_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            code = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
            log.info("conversations.info failed for %s: %s; asking before sharing", channel_id, code or "unknown")
            return True  # not cached: the next share asks Slack again
        channel = info.get("channel")
        external = not isinstance(channel, dict) or bool(channel.get("is_ext_shared", True))
        self._external[channel_id] = external
        return external
