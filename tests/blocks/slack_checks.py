"""Checks every builder's output goes through: slack_sdk validation, Slack's limits, and markup safety.

slack_sdk validates only some limits (not field lengths, not empty texts), so the dicts are walked here as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.blocks import to_dicts

SAFE_LINK_PREFIXES = ("http://", "https://", "mailto:", "!date^")
ENTITY = re.compile(r"&(amp|lt|gt);")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _check_length(text: str, limit: int, what: str) -> None:
    assert text.strip(), f"{what} is empty"
    assert len(text) <= limit, f"{what}: {len(text)} > {limit}"
    assert utf16_len(text) <= limit, f"{what}: {utf16_len(text)} UTF-16 units > {limit}"


def assert_safe_mrkdwn(text: str) -> None:
    """Every `<` starts a link we built, and every `&` starts an entity (so nothing was cut mid-entity)."""
    for match in re.finditer("<", text):
        rest = text[match.start() + 1 :]
        assert rest.startswith(SAFE_LINK_PREFIXES), f"unexpected markup in {text[match.start() : match.start() + 40]!r}"
        inside = rest.split(">", 1)[0]
        assert ">" in rest and "<" not in inside and "\n" not in inside, "unclosed markup"
        target = inside.split("|", 1)[0]
        if not target.startswith("!date^"):
            assert not re.search(r"\s", target), "whitespace in a link target"
    for match in re.finditer("&", text):
        assert ENTITY.match(text, match.start()), f"bare or cut entity near {text[match.start() : match.start() + 8]!r}"


def _check_text_object(obj: dict[str, Any], limit: int, what: str) -> None:
    assert obj["type"] in ("plain_text", "mrkdwn"), what
    _check_length(obj["text"], limit, what)
    if obj["type"] == "mrkdwn":
        assert obj.get("verbatim") is True, f"{what}: mrkdwn without verbatim"
        assert_safe_mrkdwn(obj["text"])


def _check_plain(obj: dict[str, Any], limit: int, what: str) -> None:
    assert obj["type"] == "plain_text", what
    _check_length(obj["text"], limit, what)


def _check_option(option: dict[str, Any]) -> None:
    _check_plain(option["text"], 75, "option text")
    assert 0 < len(option["value"]) <= 150


def _check_element(element: dict[str, Any]) -> None:
    kind = element["type"]
    if "action_id" in element:
        assert 0 < len(element["action_id"]) <= 255
    if "placeholder" in element:
        _check_plain(element["placeholder"], 150, "placeholder")
    if kind == "button":
        _check_plain(element["text"], 75, "button text")
        assert element.get("value") is None or 0 < len(element["value"]) <= 2000
        assert element.get("url") is None or 0 < len(element["url"]) <= 3000
        assert element.get("style") in (None, "primary", "danger")
    elif kind in ("static_select",):
        assert 0 < len(element["options"]) <= 100
        for option in element["options"]:
            _check_option(option)
    elif kind == "plain_text_input":
        maximum = element.get("max_length", 3000)
        assert maximum <= 3000
        if "initial_value" in element:
            assert 0 < len(element["initial_value"]) <= maximum
            assert utf16_len(element["initial_value"]) <= maximum
    elif kind == "datepicker":
        if "initial_date" in element:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", element["initial_date"])
    elif kind == "external_select":
        assert element.get("min_query_length", 3) >= 1
    elif kind == "checkboxes":
        assert 0 < len(element["options"]) <= 10
        for option in element["options"]:
            _check_option(option)
        assert all(chosen in element["options"] for chosen in element.get("initial_options", []))
    elif kind == "feedback_buttons":
        for side in ("positive_button", "negative_button"):
            _check_plain(element[side]["text"], 75, "feedback button text")
            assert 0 < len(element[side]["value"]) <= 2000
    elif kind not in ("email_text_input",):
        raise AssertionError(f"element type {kind} not checked here")


def _check_block(block: dict[str, Any]) -> None:
    kind = block["type"]
    if "block_id" in block:
        assert 0 < len(block["block_id"]) <= 255
    if kind == "section":
        assert "text" in block or "fields" in block
        if "text" in block:
            _check_text_object(block["text"], 3000, "section text")
        for field in block.get("fields", []):
            _check_text_object(field, 2000, "section field")
        assert len(block.get("fields", [])) <= 10
        if "accessory" in block:
            _check_element(block["accessory"])
    elif kind == "header":
        _check_plain(block["text"], 150, "header")
    elif kind == "context":
        assert 0 < len(block["elements"]) <= 10
        for element in block["elements"]:
            _check_text_object(element, 2000, "context element")
    elif kind == "actions":
        assert 0 < len(block["elements"]) <= 25
        action_ids = [element["action_id"] for element in block["elements"]]
        assert len(action_ids) == len(set(action_ids)), "action_ids must be unique within a block"
        for element in block["elements"]:
            _check_element(element)
    elif kind == "input":
        _check_plain(block["label"], 2000, "input label")
        _check_element(block["element"])
    elif kind == "context_actions":
        assert 0 < len(block["elements"]) <= 5
        for element in block["elements"]:
            _check_element(element)
    elif kind != "divider":
        raise AssertionError(f"block type {kind} not checked here")


def _check_blocks(blocks: list[dict[str, Any]], limit: int) -> None:
    assert len(blocks) <= limit, f"{len(blocks)} blocks > {limit}"
    block_ids = [block["block_id"] for block in blocks if "block_id" in block]
    assert len(block_ids) == len(set(block_ids)), "block_ids must be unique"
    for block in blocks:
        _check_block(block)
    json.dumps(blocks)  # serialisable as Slack will receive it


def message(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """Validate message blocks every way we know; return their dicts."""
    assert all(isinstance(block, Block) for block in blocks)
    dicts = to_dicts(blocks)  # raises SlackObjectFormationError when slack_sdk finds them invalid
    _check_blocks(dicts, 50)
    return dicts


def view(built: View) -> dict[str, Any]:
    assert isinstance(built, View)
    as_dict = built.to_dict()
    assert as_dict["type"] in ("modal", "home")
    assert as_dict["blocks"], "a view needs at least one block"
    _check_blocks(as_dict["blocks"], 100)
    if as_dict["type"] == "modal":
        _check_plain(as_dict["title"], 24, "modal title")
        for key in ("submit", "close"):
            if key in as_dict:
                _check_plain(as_dict[key], 24, key)
        assert len(as_dict.get("private_metadata", "")) <= 3000
        assert 0 < len(as_dict["callback_id"]) <= 255
    else:
        assert "submit" not in as_dict and "close" not in as_dict
    return as_dict


def strings(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string in a JSON-like structure, with the path to it."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, (*path, index))


def elements(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Interactive elements: in actions blocks, section accessories and input blocks."""
    for block in blocks:
        yield from block.get("elements", []) if block["type"] == "actions" else []
        if "accessory" in block:
            yield block["accessory"]
        if "element" in block:
            yield block["element"]


def by_action(blocks: list[dict[str, Any]], action_id: str) -> list[dict[str, Any]]:
    return [element for element in elements(blocks) if element.get("action_id") == action_id]


def all_text(blocks: list[dict[str, Any]]) -> str:
    """Every human-readable text, joined: for asserting what the user sees."""
    return "\n".join(value for path, value in strings(blocks) if path and path[-1] == "text")
