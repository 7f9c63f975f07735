"""Reading Rollout's error answers: what the user is shown of an error never carries a credentials link or a token,
and only Rollout's own credential manager link (or its codes) means "no CRM connected"."""

from __future__ import annotations

import json

import mcp_types as types
import pytest

from bot.rollout import parse
from bot.rollout.outcomes import ConnectNeeded, Failure, FailureReason

ORIGIN = "https://rollout.example"
TOKEN = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ0ZWFtL3VzZXIifQ.c2lnbmF0dXJlLXN0YW5kLWlu"
LINK = f"{ORIGIN}/mcp/credentials/{TOKEN}"


def error(body: dict[str, object]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(body))], is_error=True)


@pytest.mark.parametrize(
    ("code", "reason"),
    [("bad_input", FailureReason.INVALID_INPUT), ("invalid_credential", FailureReason.CREDENTIAL_GONE)],
)
def test_a_token_in_an_error_message_is_not_shown(code: str, reason: FailureReason) -> None:
    found = parse.tool_error(error({"error": code, "message": f"Bearer {TOKEN} was refused"}), rollout_origin=ORIGIN)

    assert isinstance(found, Failure) and found.reason is reason
    assert TOKEN not in found.detail and "[redacted]" in found.detail


def test_a_credentials_link_in_an_error_message_is_not_shown() -> None:
    elsewhere = (
        "https://crm.example/mcp/credentials/not-a-jwt-but-secret"  # no token shape: only the link rule hides it
    )

    found = parse.tool_error(error({"error": "bad_input", "message": f"See {elsewhere}"}), rollout_origin=ORIGIN)

    assert isinstance(found, Failure)
    assert "not-a-jwt-but-secret" not in found.detail and "/mcp/credentials/" not in found.detail


def test_an_error_detail_is_kept_short() -> None:
    found = parse.tool_error(error({"error": "bad_input", "message": "x" * 5000}), rollout_origin=ORIGIN)

    assert isinstance(found, Failure) and len(found.detail) == parse.MAX_DETAIL


def test_only_rollouts_own_credentials_link_means_no_crm_connected() -> None:
    ours = error({"error": "", "data": {"manage": LINK}})
    theirs = error({"error": "", "data": {"manage": "https://evil.example/mcp/credentials/x"}})

    assert isinstance(parse.tool_error(ours, rollout_origin=ORIGIN), ConnectNeeded)
    assert not isinstance(parse.tool_error(theirs, rollout_origin=ORIGIN), ConnectNeeded)
