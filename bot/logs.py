"""Logging set-up with a filter that scrubs anything token-like, whatever a library decides to log."""

from __future__ import annotations

import logging
import re

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


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    for handler in root.handlers:
        install_redaction(handler)
    # Request lines from the HTTP clients add noise, not insight.
    for noisy in ("httpx2", "httpx", "mcp.client.streamable_http", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
