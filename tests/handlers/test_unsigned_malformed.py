"""An unsigned request is refused before anything reads its body: malformed JSON or payload= gets 401, no traceback."""

from __future__ import annotations

import logging

import pytest

from tests.harness import AppHarness

MALFORMED = [
    pytest.param("{not json", "application/json", id="json"),
    pytest.param("payload=%7Bnot+json", "application/x-www-form-urlencoded", id="payload"),
    pytest.param("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded", id="payload-not-an-object"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
async def test_an_unsigned_malformed_body_is_refused_without_an_error_log(
    app_harness: AppHarness, caplog: pytest.LogCaptureFixture, body: str, content_type: str
) -> None:
    with caplog.at_level(logging.WARNING):
        sent = await app_harness.send(body, content_type, signature="v0=" + "0" * 64)
        await app_harness.settle()

    assert sent.status in (400, 401)
    assert app_harness.slack.calls == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text
