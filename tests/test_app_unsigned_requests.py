"""An unsigned request is refused before anything reads its body: malformed JSON, payload= or bytes that are not
UTF-8 get 401 and no error line; a signed body that is not UTF-8 gets 400 and a warning naming only the error type."""

from __future__ import annotations

import logging
import time

import pytest

from tests.harness import AppHarness

FORGED = "v0=" + "0" * 64
NOT_UTF8 = b"payload=\xff\xfe"
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain", "application/octet-stream"]

MALFORMED = [
    pytest.param("{not json", "application/json", id="json"),
    pytest.param("payload=%7Bnot+json", "application/x-www-form-urlencoded", id="payload"),
    pytest.param("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded", id="payload-not-an-object"),
    *(pytest.param(NOT_UTF8, kind, id=f"not-utf8-{kind}") for kind in CONTENT_TYPES),
]


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info or r.exc_text]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
async def test_an_unsigned_malformed_body_is_refused_without_an_error_log(
    app_harness: AppHarness, caplog: pytest.LogCaptureFixture, body: str | bytes, content_type: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        sent = await app_harness.send(body, content_type, signature=FORGED)
        await app_harness.settle()

    assert sent.status == 401
    assert app_harness.slack.calls == []
    assert not _errors(caplog), caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
async def test_a_signed_body_that_is_not_utf8_gets_400_and_a_warning_naming_only_the_error_type(
    app_harness: AppHarness, caplog: pytest.LogCaptureFixture, content_type: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        sent = await app_harness.send(NOT_UTF8, content_type)  # signed over the raw bytes, as Slack signs
        await app_harness.settle()

    assert sent.status == 400
    assert app_harness.slack.calls == []
    assert not _errors(caplog), caplog.text
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "bot.app"]
    assert warnings == ["signed request with an unreadable body: UnicodeDecodeError"]
    assert "\\xff" not in caplog.text and "0xff" not in caplog.text  # nothing of the body or the decoder's message


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        pytest.param("²", FORGED, id="timestamp-a-digit-int-cannot-read"),
        pytest.param(None, "v0=ünsigned", id="signature-not-ascii"),
    ],
)
async def test_odd_signature_headers_are_refused_without_an_error_log(
    app_harness: AppHarness, caplog: pytest.LogCaptureFixture, timestamp: str | None, signature: str
) -> None:
    headers = {"Content-Type": "application/json", "X-Slack-Signature": signature}
    headers["X-Slack-Request-Timestamp"] = timestamp if timestamp is not None else str(int(time.time()))
    with caplog.at_level(logging.DEBUG):
        async with app_harness.http.post(app_harness.url, data=b"{}", headers=headers) as response:
            status = response.status
        await app_harness.settle()

    assert status == 401
    assert not _errors(caplog), caplog.text
