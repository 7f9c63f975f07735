"""The one rule for what never reaches Slack, a log line or doctor's report."""

from __future__ import annotations

import pytest

from bot.redaction import scrub


@pytest.mark.parametrize(
    "secret",
    [
        "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        "https://universal.rollout.com/mcp/credentials/abc.def",
        "/mcp/credentials/abc",
        "xoxb-123-456-abc",
        "xapp-1-A1-abc",
        "sk-ant-api03-abc",
        "Bearer abc.def",
        "https://hooks.slack.com/commands/T1/2/abc",
    ],
)
def test_scrub_removes_every_kind_of_secret(secret: str) -> None:
    cleaned = scrub(f"before {secret} after")
    assert secret not in cleaned and cleaned.startswith("before ") and cleaned.endswith(" after")


def test_a_response_url_field_is_scrubbed_whatever_its_host() -> None:
    assert "SeCrEt" not in scrub("{'response_url': 'https://slack.example/hook/SeCrEt'}")
