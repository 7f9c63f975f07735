"""Logging set-up with a filter that scrubs anything token-like, whatever a library decides to log."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Literal

from bot.metrics import current_request

_SECRETS = re.compile(
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"  # JWTs (Rollout tokens)
    r"|/mcp/credentials/[^\s\"'<>]+"  # credential-manager links
    r"|xox[abposr]-[A-Za-z0-9-]+"  # Slack tokens
    r"|xapp-[A-Za-z0-9-]+"
    r"|sk-ant-[A-Za-z0-9_-]+"  # Anthropic keys
    r"|Bearer\s+[A-Za-z0-9._~+/=-]+"
)


def redact(text: str) -> str:
    return _SECRETS.sub("[redacted]", text)


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


def configure_logging(level: str = "INFO", log_format: Literal["text", "json"] = "text") -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
    root.setLevel(level)
    for handler in root.handlers:
        install_redaction(handler)
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
    # Request lines from the HTTP clients add noise, not insight.
    for noisy in ("httpx2", "httpx", "mcp.client.streamable_http", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
