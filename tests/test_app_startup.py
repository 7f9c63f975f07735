"""What an operator sees when the app starts: no warning they cannot act on, the install page, where metrics are."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from bot.app import metrics_location
from bot.config import load_settings
from tests.harness import BOT_TOKEN, AppHarness, start_app_harness


async def test_building_the_app_warns_about_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a real host: the token is in the environment, where Bolt also looks for it.
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    with caplog.at_level(logging.WARNING):
        async with start_app_harness(database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}") as harness:
            assert harness.app.client.token == BOT_TOKEN
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def _install_page(harness: AppHarness, **headers: str) -> tuple[aiohttp.ClientResponse, str]:
    base = harness.url.removesuffix("/slack/events")
    async with harness.http.get(f"{base}/slack/install", headers=headers) as page:
        return page, await page.text()


async def test_the_install_page_over_plain_http_says_it_needs_https(oauth_harness: AppHarness) -> None:
    page, html = await _install_page(oauth_harness)
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<meta charset="utf-8">' in html and "<title>Add Rollout to Slack</title>" in html
    assert "needs HTTPS" in html  # a browser drops the Secure state cookie over http, and the install would fail
    assert "client_id=1111.2222" in html and "state=" in html
    assert "Secure" in page.headers["Set-Cookie"]


async def test_the_install_page_behind_a_tls_terminating_proxy(oauth_harness: AppHarness) -> None:
    page, html = await _install_page(oauth_harness, **{"X-Forwarded-Proto": "https"})
    assert page.status == 200 and "<title>Add Rollout to Slack</title>" in html
    assert "needs HTTPS" not in html
    assert "client_id=1111.2222" in html


@pytest.mark.parametrize(
    ("metrics_port", "said"),
    [
        (None, "metrics: GET /metrics on port 3000 (set METRICS_PORT to serve them apart)"),
        (9100, "metrics: GET /metrics on port 9100 (METRICS_PORT), not on port 3000"),
    ],
)
def test_start_up_says_where_metrics_are(metrics_port: int | None, said: str) -> None:
    settings = load_settings(_env_file=None, port=3000, metrics_port=metrics_port)
    assert metrics_location(settings) == said
