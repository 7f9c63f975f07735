"""The one rule for what must never be shown or logged.

Secrets: Rollout tokens (JWTs) and the credential-manager links that carry them, Slack and Anthropic keys, bearer
headers, and Slack response URLs (whoever holds one can post to the channel). Logs, error texts shown in Slack and
`rollout-bot doctor`'s report all scrub with `scrub`.
"""

from __future__ import annotations

import re

_CREDENTIALS_LINK = re.compile(r"(?:https?://)?[^\s\"'<>]*/mcp/credentials/[^\s\"'<>]+")
_SECRET = re.compile(
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"  # JWTs (Rollout tokens)
    r"|xox[abposr]-[A-Za-z0-9-]+"  # Slack tokens
    r"|xapp-[A-Za-z0-9-]+"
    r"|sk-ant-[A-Za-z0-9_-]+"  # Anthropic keys
    r"|Bearer\s+[A-Za-z0-9._~+/=-]+"
    # Slack response URLs and webhooks, also form-encoded (%2F).
    r"|hooks\.slack(?:-gov)?\.com[^\s\"'<>&,]*"
    r"|/response_url/[^\s\"'<>&,]+"  # the fake Slack's response URLs (bench/fakes/slack_api.py)
)
# A field named response_url is one whatever its host: Python and JSON reprs, form bodies.
_RESPONSE_URL_FIELD = re.compile(r"""(response_url['"]?\s*[:=]\s*['"]?)[^\s"'<>&,}]+""")
CREDENTIALS_LINK_WITHHELD = "[credentials link withheld]"
REDACTED = "[redacted]"


def scrub(text: str) -> str:
    """`text` without anything secret in it."""
    text = _CREDENTIALS_LINK.sub(CREDENTIALS_LINK_WITHHELD, text)
    text = _SECRET.sub(REDACTED, text)
    return _RESPONSE_URL_FIELD.sub(rf"\1{REDACTED}", text)
