"""Slack for work that runs outside any Slack request (morning digests, task reminders): bot.schedule.Messenger.

There is no request to take a client from, so each call makes one for the user's workspace: the single install's
token, or with OAuth installs that workspace's (or organisation's) bot token from the installation store, refreshed
first when it is about to expire, as Bolt does for requests. Every client shares the app's aiohttp session, base URL
and retry handlers, so a 429 is waited out here as it is everywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.models.blocks import Block
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.identity import SlackUser
from bot.store.installs import EncryptedInstallationStore

log = logging.getLogger(__name__)

ROTATE_MINUTES_BEFORE_EXPIRY = 120  # Bolt's default: a token expiring within this is refreshed before use


class SlackMessenger:
    """bot.schedule.Messenger over Slack's Web API."""

    def __init__(
        self,
        client: AsyncWebClient,
        installations: AsyncInstallationStore | None = None,
        rotator: AsyncTokenRotator | None = None,
    ) -> None:
        """client: the app's own (its base URL, session and retry handlers, and with a single install its token);
        installations: set with OAuth installs; rotator: refreshes their bot tokens when token rotation is on."""
        self._client = client
        self._installations = installations
        self._rotator = rotator

    @classmethod
    def for_app(
        cls,
        client: AsyncWebClient,
        installations: AsyncInstallationStore | None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> SlackMessenger:
        """The app's messenger: with OAuth installs, tokens refreshed through the app's client id and secret."""
        rotator = None
        if installations is not None and client_id and client_secret:
            rotator = AsyncTokenRotator(
                client_id=client_id, client_secret=client_secret, client=with_token(client, None)
            )
        return cls(client, installations, rotator)

    async def dm(self, user: SlackUser, blocks: Sequence[Block], text: str) -> bool:
        client = await self._client_for(user)
        if client is None:
            return False
        try:
            opened = await client.conversations_open(users=user.user_id)
            await client.chat_postMessage(channel=str(opened["channel"]["id"]), blocks=blocks, text=text)
        except SlackApiError as error:
            _log_error("DM", user, error)
            return False
        return True

    async def time_zone(self, user: SlackUser) -> str | None:
        client = await self._client_for(user)
        if client is None:
            return None
        try:
            answer = await client.users_info(user=user.user_id)
        except SlackApiError as error:
            _log_error("users.info", user, error)
            return None
        profile = answer.get("user")
        zone = profile.get("tz") if isinstance(profile, dict) else None
        return zone if isinstance(zone, str) and zone else None

    async def _client_for(self, user: SlackUser) -> AsyncWebClient | None:
        if self._installations is None:
            return self._client
        # An org-wide install keys its people by the organisation (bot.identity.slack_user): their team id is E….
        org_wide = user.team_id.startswith("E")
        enterprise_id = user.team_id if org_wide else None
        if not org_wide and isinstance(self._installations, EncryptedInstallationStore):
            # A workspace of an Enterprise Grid organisation: its install is found by both ids.
            enterprise_id = await self._installations.async_enterprise_of(user.team_id)
        bot = await self._installations.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=None if org_wide else user.team_id,
            is_enterprise_install=org_wide,
        )
        if bot is not None and self._rotator is not None:
            try:
                refreshed = await self._rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=ROTATE_MINUTES_BEFORE_EXPIRY
                )
            except SlackTokenRotationError:
                log.warning("Slack bot token refresh failed for %s", user)
                return None
            if refreshed is not None:
                await self._installations.async_save_bot(refreshed)
                bot = refreshed
        if bot is None or not bot.bot_token:
            log.warning("no Slack installation for %s", user)
            return None
        return with_token(self._client, bot.bot_token)


def with_token(client: AsyncWebClient, token: str | None) -> AsyncWebClient:
    """Another client like `client` (base URL, shared session, retry handlers), with `token`."""
    return AsyncWebClient(
        token=token,
        base_url=client.base_url,
        session=client.session,
        timeout=client.timeout,
        retry_handlers=list(client.retry_handlers),
    )


def _log_error(method: str, user: SlackUser, error: SlackApiError) -> None:
    # Only Slack's error code: the exception text quotes the request, which holds CRM content.
    code = error.response.get("error") if error.response is not None else None
    log.warning("Slack %s failed for %s: %s", method, user, code or "unknown")
