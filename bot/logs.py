"""Logging set-up: a filter that scrubs anything token-like and Slack response URLs, whatever a library decides to
log, and a cap that keeps libraries at INFO or above unless an operator names them (LOG_LEVEL_LIBRARIES).

Libraries log what they handle at DEBUG: the Anthropic SDK the whole prompt (CRM names, emails, notes), slack_sdk
every posted message and the payloads with their response URLs (anyone holding one can post to the channel). So only
our own loggers follow LOG_LEVEL below INFO; a library does only when named.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from bot.metrics import current_request
from bot.redaction import scrub

# Our own loggers: they follow LOG_LEVEL all the way down.
OWN_LOGGERS = ("bot", "handlers")
# Named like ours, written by a library: Bolt logs through the app logger bot/app.py gives it, and at DEBUG that
# means events (message text) and ack bodies (select options with CRM names). A library like the others.
LIBRARIES_UNDER_OURS = ("bot.slack",)
LIBRARY_FLOOR = logging.INFO


def redact(text: str) -> str:
    return scrub(text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks can quote request headers or URLs: keep the type, drop the text.
            record.msg = f"{record.msg} ({type(record.exc_info[1]).__name__})"
            record.exc_info = None
            record.exc_text = None
        return True


class LibraryLevelCap(logging.Filter):
    """Below INFO, only records of our own loggers and of the named libraries (and their children) get through.

    Logger levels alone cannot promise this: a library may set its own logger's level (ANTHROPIC_LOG=debug does),
    and Bolt copies our app logger's level onto its own loggers. The handler has the last word.
    """

    def __init__(self, libraries: Iterable[str]) -> None:
        super().__init__()
        self.libraries = tuple(libraries)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= LIBRARY_FLOOR or below_info_allowed(record.name, self.libraries)


def below_info_allowed(name: str, libraries: Iterable[str]) -> bool:
    """Whether logger `name` may log below INFO: it is ours, or a library named in LOG_LEVEL_LIBRARIES."""
    named = tuple(libraries)
    return within(name, named) or (within(name, OWN_LOGGERS) and not within(name, LIBRARIES_UNDER_OURS))


def within(name: str, parents: Iterable[str]) -> bool:
    """`name` is one of `parents` or a child of one ("slack_sdk" covers "slack_sdk.web", not "slack_sdkx")."""
    return any(name == parent or name.startswith(parent + ".") for parent in parents)


def install_redaction(handler: logging.Handler) -> None:
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


class RequestIdFilter(logging.Filter):
    """Puts the id of the Slack delivery being handled (or "-") on every record, also in work after the ack."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_request()
        record.request_id = context.request_id if context is not None else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (and the exception's type, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "INFO", log_format: Literal["text", "json"] = "text", libraries: Iterable[str] = ()
) -> None:
    """Our own loggers at `level`; every other logger at INFO or above unless named in `libraries` (a logger name
    covers its children)."""
    named = tuple(name for name in libraries if name)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
    numeric = logging.getLevelNamesMapping()[level]
    capped = max(numeric, LIBRARY_FLOOR)
    # The root's level is what an unnamed library inherits; the cap on each handler catches the rest.
    root.setLevel(capped)
    for name in (*OWN_LOGGERS, *LIBRARIES_UNDER_OURS, *named):
        logging.getLogger(name).setLevel(numeric if below_info_allowed(name, named) else capped)
    for handler in root.handlers:
        install_redaction(handler)
        for old in [f for f in handler.filters if isinstance(f, LibraryLevelCap)]:
            handler.removeFilter(old)
        handler.addFilter(LibraryLevelCap(named))
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
    # Request lines from the HTTP clients add noise, not insight (unless asked for by name).
    for noisy in ("httpx2", "httpx", "mcp.client.streamable_http", "uvicorn.access"):
        if not within(noisy, named):
            logging.getLogger(noisy).setLevel(logging.WARNING)
