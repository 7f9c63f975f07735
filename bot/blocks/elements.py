"""slack_sdk block and element constructors that enforce Slack's limits, so builders cannot forget to.

mrkdwn arguments are expected to be escaped already (text.escape_mrkdwn / link); plain arguments are raw text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.blocks.block_elements import BlockElement

from bot.blocks.text import (
    BUTTON_TEXT,
    BUTTON_URL,
    BUTTON_VALUE,
    CONTEXT_ELEMENT,
    CONTEXT_ELEMENTS,
    HEADER_TEXT,
    SECTION_FIELD,
    SECTION_FIELDS,
    SECTION_TEXT,
    clean,
    slack_len,
    truncate_mrkdwn,
    truncate_plain,
)
from bot.ids import Action

# Slack rejects empty texts; this stands in for a value that turned out empty after cleaning.
EMPTY = "—"


def md(text: str, limit: int = SECTION_TEXT) -> MarkdownTextObject:
    # verbatim: no auto-linking of bare URLs/channel names and no mention parsing in what CRM data says.
    return MarkdownTextObject(text=truncate_mrkdwn(text.strip(), limit) or EMPTY, verbatim=True)


def pt(text: str | None, limit: int) -> PlainTextObject:
    # plain_text is shown as is (no mentions, links or formatting), so it is cleaned and cut but not escaped.
    return PlainTextObject(text=truncate_plain(clean(text, single_line=True), limit) or EMPTY, emoji=True)


def header(text: str | None) -> HeaderBlock:
    return HeaderBlock(text=pt(text, HEADER_TEXT))


def section(text: str, *, accessory: BlockElement | None = None) -> SectionBlock:
    return SectionBlock(text=md(text), accessory=accessory)


def fields_sections(fields: Sequence[str]) -> list[SectionBlock]:
    """Section blocks of at most ten mrkdwn fields each."""
    return [
        SectionBlock(fields=[md(field, SECTION_FIELD) for field in fields[start : start + SECTION_FIELDS]])
        for start in range(0, len(fields), SECTION_FIELDS)
    ]


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[md(text, CONTEXT_ELEMENT) for text in texts[:CONTEXT_ELEMENTS]])


def divider() -> DividerBlock:
    return DividerBlock()


def button(
    text: str,
    action: Action,
    *,
    value: str | None = None,
    url: str | None = None,
    style: Literal["primary", "danger"] | None = None,
) -> ButtonElement:
    """A button whose action_id comes from the registry. value and url must already fit (values.encode_value)."""
    if value is not None and slack_len(value) > BUTTON_VALUE:
        raise ValueError("button value exceeds Slack's limit")
    if url is not None and slack_len(url) > BUTTON_URL:
        raise ValueError("button url exceeds Slack's limit")
    return ButtonElement(text=pt(text, BUTTON_TEXT), action_id=action.value, value=value, url=url, style=style)


def actions(elements: Iterable[ButtonElement]) -> list[ActionsBlock]:
    """An actions block, or none when there is nothing to click."""
    present = list(elements)
    return [ActionsBlock(elements=present)] if present else []


def to_dicts(objects: Iterable[JsonObject]) -> list[dict[str, Any]]:
    """Block Kit JSON for blocks (or options). Validates: raises SlackObjectFormationError on anything invalid."""
    return [obj.to_dict() for obj in objects]


@dataclass(frozen=True, slots=True)
class Message:
    blocks: list[Block]
    text: str  # the notification and screen-reader text
