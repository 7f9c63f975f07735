"""Add to Slack in several workspaces: Bolt's OAuth flow against the fake Slack (`oauth.v2.access`), installations in
the project's database with encrypted tokens, two workspaces used interleaved, one uninstalled while the other works,
rotating tokens refreshed before they expire. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from sqlalchemy import select

from bot.config import DEFAULT_BOT_SCOPES, load_settings
from bot.identity import SlackUser
from bot.store.schema import slack_bots
from tests.harness import AppHarness, start_app_harness

ADA = "ada.lovelace@analytical-engines.example"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret-for-tests"
# slack_sdk sends the client id and secret to oauth.v2.access with aiohttp's BasicAuth, which aiohttp now deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yml").read_text())


@pytest.fixture(params=["sqlite", "postgresql"])
def install_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'install.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def oauth_app(install_database_url: str) -> AsyncIterator[AppHarness]:
    async with start_app_harness(
        database_url=install_database_url,
        slack_bot_token=None,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
    ) as harness:
        yield harness


async def _install(harness: AppHarness, team_id: str) -> SlackUser:
    """Someone in `team_id` clicks Add to Slack, approves, and Slack sends them back with a code."""
    installer = SlackUser(team_id, f"U{uuid.uuid4().hex[:10].upper()}")
    await _add_to_slack(harness, harness.slack.oauth_code(team_id, installer.user_id))
    harness.sandbox.crm.set_accounts(installer.default_subject, ["hubspot"])
    return installer


async def _add_to_slack(harness: AppHarness, code: str) -> None:
    """The browser's part: open the install page, then come back from Slack with `code` and the OAuth state."""
    base = harness.url.removesuffix("/slack/events")
    async with harness.http.get(f"{base}/slack/install") as page:
        assert page.status == 200
        html = await page.text()
        # The state cookie is Secure (Slack apps run on https): a browser on https would send it back, so do that.
        cookies = "; ".join(f"{name}={morsel.value}" for name, morsel in page.cookies.items())
    state = re.search(r"state=([^&\"']+)", html)
    assert state is not None and f"client_id={CLIENT_ID}" in html and cookies
    params = {"code": code, "state": unquote(state.group(1))}
    async with harness.http.get(f"{base}/slack/oauth_redirect", params=params, headers={"Cookie": cookies}) as done:
        assert done.status == 200, await done.text()


async def _home(harness: AppHarness, user: SlackUser) -> int:
    """Open the user's App Home; how many views.publish calls succeeded for it."""
    since = harness.slack.mark()
    harness.team_id = user.team_id
    await harness.event({"type": "app_home_opened", "user": user.user_id, "channel": "D1", "tab": "home"})
    await harness.settle()
    return len([c for c in harness.slack.calls_to("views.publish", since=since) if c.ok])


async def test_two_workspaces_install_use_interleaved_and_one_uninstalls(oauth_app: AppHarness) -> None:
    first_team, second_team = f"TA{uuid.uuid4().hex[:8].upper()}", f"TB{uuid.uuid4().hex[:8].upper()}"
    stranger = SlackUser(f"TC{uuid.uuid4().hex[:8].upper()}", "U0NOBODY")
    assert await _home(oauth_app, stranger) == 0  # no installation, no token: nothing is sent

    first, second = await _install(oauth_app, first_team), await _install(oauth_app, second_team)
    for user in (first, second, first, second):
        since = oauth_app.slack.mark()
        await oauth_app.command(user, f"overview {ADA}")
        await oauth_app.slack.wait_for("response_url", lambda call: "Ada Lovelace" in call.text, since=since)
        assert await _home(oauth_app, user) == 1

    # Bot tokens are stored encrypted, each workspace its own.
    async with oauth_app.services.store._database.read() as connection:
        stored = (await connection.execute(select(slack_bots.c.team_id, slack_bots.c.bot_token))).all()
    ours = {team: token for team, token in stored if team in (first_team, second_team)}
    assert set(ours) == {first_team, second_team}
    assert not any(token.startswith("xox") for token in ours.values())
    assert all(not any(t in token for t in oauth_app.slack.issued_tokens) for token in ours.values())

    oauth_app.team_id = first_team
    await oauth_app.event({"type": "app_uninstalled"})
    await oauth_app.settle()

    assert await _home(oauth_app, first) == 0
    assert await _home(oauth_app, second) == 1
    assert await oauth_app.services.store.users.load_token(first) is None
    assert await oauth_app.services.store.users.load_token(second) is not None


async def test_a_rotating_token_is_refreshed_before_it_expires(oauth_app: AppHarness) -> None:
    oauth_app.slack.token_lifetime = 60  # within Bolt's refresh margin from the start
    user = await _install(oauth_app, f"TR{uuid.uuid4().hex[:8].upper()}")
    installed = await oauth_app.services.installations.async_find_bot(enterprise_id=None, team_id=user.team_id)
    assert installed is not None and installed.bot_refresh_token

    assert await _home(oauth_app, user) == 1

    refreshed = [c for c in oauth_app.slack.calls_to("oauth.v2.access") if c.args.get("grant_type") == "refresh_token"]
    assert len(refreshed) == 1
    now = await oauth_app.services.installations.async_find_bot(enterprise_id=None, team_id=user.team_id)
    assert now is not None and now.bot_token != installed.bot_token and now.bot_token in oauth_app.slack.issued_tokens


def test_without_client_credentials_one_workspace_runs_on_its_bot_token() -> None:
    single = load_settings(_env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s")
    single.require_slack()
    assert not single.oauth_enabled
    many = load_settings(_env_file=None, slack_client_id="1.2", slack_client_secret="x", slack_signing_secret="s")
    many.require_slack()
    assert many.oauth_enabled
    half = load_settings(_env_file=None, slack_client_id="1.2", slack_signing_secret="s")
    with pytest.raises(Exception, match="SLACK_CLIENT_SECRET"):
        half.require_slack()


def test_the_install_asks_for_the_manifest_scopes() -> None:
    assert DEFAULT_BOT_SCOPES.split(",") == MANIFEST["oauth_config"]["scopes"]["bot"]
    assert MANIFEST["oauth_config"]["redirect_urls"] == ["https://YOUR-HOST/slack/oauth_redirect"]


async def test_an_org_wide_install_serves_every_workspace_of_the_org_until_uninstalled(oauth_app: AppHarness) -> None:
    org = f"E{uuid.uuid4().hex[:8].upper()}"
    installer = SlackUser(f"TW{uuid.uuid4().hex[:8].upper()}", f"U{uuid.uuid4().hex[:10].upper()}")
    await _install_org(oauth_app, org, installer)
    stored = await oauth_app.services.installations.async_find_bot(
        enterprise_id=org, team_id=None, is_enterprise_install=True
    )
    assert stored is not None and stored.team_id is None

    workspaces = [f"TW{uuid.uuid4().hex[:8].upper()}" for _ in range(2)]
    for team in workspaces:  # any workspace of the organisation, on the one org-level token
        assert await _org_home(oauth_app, org, SlackUser(team, f"U{uuid.uuid4().hex[:10].upper()}")) == 1

    await _org_event(oauth_app, org, workspaces[0], {"type": "app_uninstalled"})
    await oauth_app.settle()

    assert await _org_home(oauth_app, org, SlackUser(workspaces[1], "U0LATER")) == 0
    gone = await oauth_app.services.installations.async_find_bot(
        enterprise_id=org, team_id=None, is_enterprise_install=True
    )
    assert gone is None


async def _install_org(harness: AppHarness, org: str, installer: SlackUser) -> None:
    await _add_to_slack(harness, harness.slack.oauth_code(None, installer.user_id, enterprise_id=org, org_wide=True))


async def _org_event(harness: AppHarness, org: str, team_id: str, event: dict[str, object]) -> None:
    body = {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "enterprise_id": org,
        "api_app_id": "A0HARNESS",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}",
        "event_time": 1,
        "authorizations": [
            {"enterprise_id": org, "team_id": None, "user_id": "U0BOT", "is_bot": True, "is_enterprise_install": True}
        ],
        "is_ext_shared_channel": False,
    }
    assert (await harness.send(json.dumps(body), "application/json")).status == 200


async def _org_home(harness: AppHarness, org: str, user: SlackUser) -> int:
    since = harness.slack.mark()
    event = {"type": "app_home_opened", "user": user.user_id, "channel": "D1", "tab": "home"}
    await _org_event(harness, org, user.team_id, event)
    await harness.settle()
    return len([c for c in harness.slack.calls_to("views.publish", since=since) if c.ok])
