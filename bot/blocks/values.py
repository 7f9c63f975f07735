"""Compact JSON for button values, option values and private_metadata: ids only, never tokens or CRM text."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks.text import BUTTON_VALUE, PRIVATE_METADATA, slack_len


def _compact(payload: dict[str, Any]) -> str:
    # ASCII-only keeps the payload valid whatever an id contains (even a lone surrogate).
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True)


def encode_value(*, limit: int = BUTTON_VALUE, **ids: str | None) -> str | None:
    """`{"p":"per_1","c":"cred_1"}` with None values left out, or None when it would not fit limit.

    Builders leave a button out rather than send a value Slack would reject; an id that long is not a real id.
    """
    encoded = _compact({key: value for key, value in ids.items() if value is not None})
    return encoded if slack_len(encoded) <= limit else None


def encode_metadata(**ids: str | None) -> str:
    """private_metadata for a modal. Raises ValueError when it would exceed Slack's limit (a programming error)."""
    encoded = encode_value(limit=PRIVATE_METADATA, **ids)
    if encoded is None:
        raise ValueError("private_metadata would exceed Slack's limit")
    return encoded


def check_metadata(private_metadata: str) -> str:
    if slack_len(private_metadata) > PRIVATE_METADATA:
        raise ValueError("private_metadata exceeds Slack's limit")
    return private_metadata


def decode_value(value: str | None) -> dict[str, str]:
    """The string ids of a value or private_metadata this package encoded; {} for anything else.

    Lenient on purpose: handlers still check every id against what the acting user may do.
    """
    if not value:
        return {}
    try:
        decoded = json.loads(value)
    except ValueError:
        return {}
    if not isinstance(decoded, dict):
        return {}
    return {key: item for key, item in decoded.items() if isinstance(key, str) and isinstance(item, str)}
