"""The log filter scrubs tokens, credential links and response URLs whatever logs them, tracebacks included; below
INFO only our own loggers and the libraries named in LOG_LEVEL_LIBRARIES log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.config import load_settings
from bot.logs import RedactingFilter, configure_logging, redact

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
def test_tokens_and_secrets_are_redacted_from_a_line(secret: str) -> None:
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


# ---- what gets logged at DEBUG -------------------------------------------------------------------------------------

LIBRARY_LOGGERS = [
    "anthropic._base_client",
    "slack_sdk.web.async_base_client",
    "slack_bolt.AsyncApp",
    "bot.slack",  # Bolt's app logger (bot/app.py): Bolt writes it, events and ack bodies at DEBUG
    "httpcore.http11",
    "aiosqlite",
    "sqlalchemy.engine.Engine",
    "mcp.client.streamable_http",
]
OWN_LOGGERS = ["bot.agent.loop", "bot.slack_api", "handlers.listeners.agent"]


@pytest.fixture
def configured() -> Iterator[Callable[..., io.StringIO]]:
    """configure_logging on a root logger whose only handler writes into a buffer; every level is put back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    known = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }

    def configure(*args: Any, **kwargs: Any) -> io.StringIO:
        buffer = io.StringIO()
        root.handlers = [logging.StreamHandler(buffer)]
        configure_logging(*args, **kwargs)
        return buffer

    try:
        yield configure
    finally:
        root.handlers, root.level = handlers, level
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.setLevel(known.get(name, logging.NOTSET))


def _lines(buffer: io.StringIO, log_format: str) -> str:
    text = buffer.getvalue()
    if log_format == "json":
        return "\n".join(json.loads(line)["message"] for line in text.splitlines())
    return text


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("library", LIBRARY_LOGGERS)
def test_at_debug_a_library_logs_info_but_not_debug(
    configured: Callable[..., io.StringIO], log_format: str, library: str
) -> None:
    buffer = configured("DEBUG", log_format)

    logging.getLogger(library).debug("Request options: prompt about Ada Lovelace")
    logging.getLogger(library).info("library info line")

    assert "Ada Lovelace" not in _lines(buffer, log_format)
    # configure_logging quiets MCP's request lines to WARNING, and SQLAlchemy sets its engine logger's own level.
    if library not in ("mcp.client.streamable_http", "sqlalchemy.engine.Engine"):
        assert "library info line" in _lines(buffer, log_format)


def test_a_library_that_sets_its_own_logger_to_debug_is_still_capped(configured: Callable[..., io.StringIO]) -> None:
    buffer = configured("DEBUG")
    logging.getLogger("anthropic").setLevel(logging.DEBUG)  # what ANTHROPIC_LOG=debug does

    logging.getLogger("anthropic._base_client").debug("Request options: prompt about Ada Lovelace")

    assert "Ada Lovelace" not in buffer.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_library_named_in_log_level_libraries_logs_at_log_level(
    configured: Callable[..., io.StringIO], log_format: str
) -> None:
    settings = load_settings(
        _env_file=None, log_level="DEBUG", log_level_libraries=" anthropic, ,slack_sdk.web ,bot.slack"
    )
    assert settings.log_libraries == ("anthropic", "slack_sdk.web", "bot.slack")
    buffer = configured(settings.log_level, log_format, settings.log_libraries)

    logging.getLogger("anthropic._base_client").debug("anthropic debug line")
    logging.getLogger("slack_sdk.web.async_base_client").debug("slack web debug line")
    logging.getLogger("slack_sdk.webhook").debug("webhook debug line")  # slack_sdk.web names no sibling
    logging.getLogger("anthropicx").debug("lookalike debug line")
    logging.getLogger("bot.slack").debug("bolt debug line")

    lines = _lines(buffer, log_format)
    assert "anthropic debug line" in lines and "slack web debug line" in lines and "bolt debug line" in lines
    assert "webhook debug line" not in lines and "lookalike debug line" not in lines


def test_log_level_libraries_is_empty_by_default() -> None:
    assert load_settings(_env_file=None).log_libraries == ()


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("own", OWN_LOGGERS)
def test_our_own_debug_lines_are_logged(configured: Callable[..., io.StringIO], log_format: str, own: str) -> None:
    buffer = configured("DEBUG", log_format)

    logging.getLogger(own).debug("our own debug line")

    assert "our own debug line" in _lines(buffer, log_format)


def test_at_info_nobody_logs_debug(configured: Callable[..., io.StringIO]) -> None:
    buffer = configured("INFO", "text", ("anthropic",))

    logging.getLogger("bot.agent.loop").debug("own debug line")
    logging.getLogger("anthropic._base_client").debug("library debug line")

    assert buffer.getvalue() == ""


# ---- response URLs -------------------------------------------------------------------------------------------------

HOOK = "T0HARNESS/1234567890/Zx9aBcDeFgHiJkLm"
RESPONSE_URLS = [
    pytest.param(f"https://hooks.slack.com/commands/{HOOK}", id="command"),
    pytest.param(f"https://hooks.slack.com/actions/{HOOK}", id="action"),
    pytest.param(f"https://hooks.slack.com/services/{HOOK}", id="webhook"),
    pytest.param(f"http://127.0.0.1:54321/response_url/{HOOK}", id="harness"),
]


@pytest.mark.parametrize("url", RESPONSE_URLS)
@pytest.mark.parametrize(
    "shape",
    ["posting to {url} now", "{{'response_url': '{url}', 'text': 'now'}}", '{{"response_url": "{url}"}} now'],
)
def test_response_urls_are_redacted_in_any_shape(url: str, shape: str) -> None:
    cleaned = redact(shape.format(url=url))
    assert HOOK.split("/")[-1] not in cleaned and url not in cleaned
    assert "now" in cleaned


def test_redact_a_form_encoded_response_url_and_any_response_url_field() -> None:
    body = "command=%2Frollout&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F2%2FSeCrEt&text=hi"
    assert "SeCrEt" not in redact(body) and "text=hi" in redact(body)
    # A field named response_url is one whatever its host.
    assert "SeCrEt" not in redact("{'response_url': 'https://slack.example/hook/SeCrEt'}")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_response_url_in_our_own_line_is_redacted(configured: Callable[..., io.StringIO], log_format: str) -> None:
    buffer = configured("DEBUG", log_format)

    logging.getLogger("handlers.slack.replies").debug(
        "posting to %s for %s", f"https://hooks.slack.com/actions/{HOOK}", "U1"
    )
    logging.getLogger("bot.slack").info("payload %s", {"response_url": f"http://127.0.0.1:1/response_url/{HOOK}"})

    lines = _lines(buffer, log_format)
    assert "posting to" in lines and "U1" in lines and "payload" in lines
    assert HOOK.split("/")[-1] not in buffer.getvalue()
