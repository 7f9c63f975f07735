"""SlackMessenger: how digests and reminders reach people outside any request — a DM through the fake Slack, the time
zone from users.info, and with OAuth installs each workspace's own bot token."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from slack_sdk.oauth.installation_store import Bot

from bench.fakes import FakeSlackApi
from bot.blocks.elements import section
from bot.identity import SlackUser
from handlers.slack.notifications import SlackMessenger
from tests.harness import BOT_TOKEN, AppHarness

# slack_sdk sends the client id and secret to oauth.v2.access with aiohttp's BasicAuth, which aiohttp now deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")


def _messenger(harness: AppHarness) -> SlackMessenger:
    messenger = harness.services.time_zones.messenger
    assert isinstance(messenger, SlackMessenger), "build_slack_app wires Slack in as the messenger"
    return messenger


async def test_dm_opens_the_users_dm_and_posts_there(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    delivered = await _messenger(app_harness).dm(user, [section("Your digest")], "Your CRM digest.")

    assert delivered
    (opened,) = app_harness.slack.calls_to("conversations.open")
    assert opened.args["users"] == user.user_id
    (posted,) = app_harness.slack.calls_to("chat.postMessage")
    assert posted.args["channel"] == FakeSlackApi.dm_channel(user.user_id)
    assert posted.text == "Your CRM digest." and posted.contains("Your digest")
    assert posted.token == BOT_TOKEN


async def test_a_refused_dm_is_false_and_logs_slacks_error_code_only(
    app_harness: AppHarness, caplog: pytest.LogCaptureFixture
) -> None:
    user = app_harness.new_user()
    app_harness.slack.fail_next("chat.postMessage", status=200, error="is_archived")

    with caplog.at_level(logging.WARNING, logger="handlers.slack.notifications"):
        delivered = await _messenger(app_harness).dm(user, [section("Secret CRM words")], "Secret CRM words")

    assert not delivered
    assert "is_archived" in caplog.text
    assert "Secret CRM words" not in caplog.text


async def test_time_zone_is_users_info_tz(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    app_harness.slack.time_zones[user.user_id] = "Europe/Paris"

    assert await _messenger(app_harness).time_zone(user) == "Europe/Paris"
    (asked,) = app_harness.slack.calls_to("users.info")
    assert asked.args["user"] == user.user_id


async def test_time_zone_is_none_when_slack_refuses(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    app_harness.slack.fail_next("users.info", status=200, error="user_not_found")

    assert await _messenger(app_harness).time_zone(user) is None


# ---- OAuth installs: each workspace's own token ---------------------------------------------------------------------


async def _installed(
    harness: AppHarness, *, team_id: str | None, enterprise_id: str | None = None, **bot: object
) -> str:
    """A bot installed in a workspace (or org-wide), its token one the fake Slack accepts; that token."""
    token = f"xoxb-{uuid.uuid4().hex[:12]}"
    harness.slack.issued_tokens[token] = team_id or enterprise_id or ""
    assert harness.services.installations is not None
    await harness.services.installations.async_save_bot(
        Bot(
            app_id="A0HARNESS",
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=token,
            bot_id="B0BOT",
            bot_user_id="U0BOT",
            installed_at=time.time(),
            is_enterprise_install=enterprise_id is not None and team_id is None,
            **bot,  # type: ignore[arg-type]
        )
    )
    return token


async def test_with_oauth_installs_each_workspace_is_reached_with_its_own_bot_token(oauth_harness: AppHarness) -> None:
    first = await _installed(oauth_harness, team_id="T0FIRST")
    second = await _installed(oauth_harness, team_id="T0SECOND")
    messenger = _messenger(oauth_harness)

    assert await messenger.dm(SlackUser("T0SECOND", "U0SOMEONE"), [section("hi")], "hi")
    assert await messenger.dm(SlackUser("T0FIRST", "U0OTHER"), [section("hi")], "hi")

    posted = oauth_harness.slack.calls_to("chat.postMessage")
    assert [(call.args["channel"], call.token) for call in posted] == [("DU0SOMEONE", second), ("DU0OTHER", first)]


async def test_an_org_wide_install_is_found_by_the_organisation(oauth_harness: AppHarness) -> None:
    token = await _installed(oauth_harness, team_id=None, enterprise_id="E0ORG")
    oauth_harness.slack.time_zones["U0GRID"] = "Asia/Tokyo"

    assert await _messenger(oauth_harness).time_zone(SlackUser("E0ORG", "U0GRID")) == "Asia/Tokyo"
    (asked,) = oauth_harness.slack.calls_to("users.info")
    assert asked.token == token


async def test_a_workspace_installed_inside_an_organisation_is_found_by_its_team(oauth_harness: AppHarness) -> None:
    # Installed in one workspace of an Enterprise Grid organisation: the row names both; people are keyed by the team.
    token = await _installed(oauth_harness, team_id="T0INGRID", enterprise_id="E0GRID")

    assert await _messenger(oauth_harness).dm(SlackUser("T0INGRID", "U0MEMBER"), [section("hi")], "hi")
    (posted,) = oauth_harness.slack.calls_to("chat.postMessage")
    assert posted.token == token


async def test_an_expiring_token_is_refreshed_first_and_kept(oauth_harness: AppHarness) -> None:
    stale = await _installed(
        oauth_harness,
        team_id="T0ROTATE",
        bot_refresh_token="refresh-rotate",
        bot_token_expires_at=int(time.time()) + 60,
    )
    oauth_harness.slack.issued_tokens["refresh:refresh-rotate"] = "T0ROTATE"

    assert await _messenger(oauth_harness).dm(SlackUser("T0ROTATE", "U0ROT"), [section("hi")], "hi")

    (posted,) = oauth_harness.slack.calls_to("chat.postMessage")
    assert posted.token not in (None, stale)
    assert oauth_harness.services.installations is not None
    kept = await oauth_harness.services.installations.async_find_bot(enterprise_id=None, team_id="T0ROTATE")
    assert kept is not None and kept.bot_token == posted.token


async def test_a_workspace_without_an_install_is_not_reached(oauth_harness: AppHarness) -> None:
    messenger = _messenger(oauth_harness)

    assert not await messenger.dm(SlackUser("T0NOWHERE", "U0X"), [section("hi")], "hi")
    assert await messenger.time_zone(SlackUser("T0NOWHERE", "U0X")) is None
    assert not oauth_harness.slack.calls_to("chat.postMessage")
