"""What an operator sees when the app starts: no warning they cannot act on, the install page, where metrics are."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.harness import BOT_TOKEN, start_app_harness


async def test_building_the_app_warns_about_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a real host: the token is in the environment, where Bolt also looks for it.
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    with caplog.at_level(logging.WARNING):
        async with start_app_harness(database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}") as harness:
            assert harness.app.client.token == BOT_TOKEN
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
