"""The log filter scrubs tokens and credential links whatever logs them, tracebacks included."""

from __future__ import annotations

import logging

import pytest

from bot.logs import RedactingFilter, redact

JWT = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJzbGFjay0xMjM0NTY3OCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    "secret",
    [
        JWT,
        f"https://universal.rollout.com/mcp/credentials/{JWT}",
        "xoxb-1234-5678-abcdefABCDEF",
        "xapp-1-A111-222-abc",
        "sk-ant-api03-abcdefghijklmnop",
        f"Bearer {JWT}",
    ],
)
def test_redact(secret: str) -> None:
    cleaned = redact(f"calling with {secret} now")
    assert "calling with" in cleaned and "now" in cleaned
    assert JWT not in cleaned
    assert secret not in cleaned


def test_filter_scrubs_arguments_and_drops_traceback_text(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.logs")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="tests.logs"):
        logger.info("token %s for %s", JWT, "T1/U1")
        try:
            raise ValueError(f"bad token {JWT}")
        except ValueError:
            logger.exception("call failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert JWT not in text
    assert "T1/U1" in text
    assert "call failed (ValueError)" in text
