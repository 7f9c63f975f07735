"""The user's Rollout tools as the model sees them, and which of them write or fetch a person overview."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from bot.rollout.tools import Capability

log = logging.getLogger(__name__)

# Credential choice is the bot's job (the user's default is injected), so the model never sees this parameter.
HIDDEN_PARAMETERS = frozenset({"credentialId", "credential_id"})
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")  # what the Messages API accepts as a tool name
_MAX_DESCRIPTION = 4000

Classify = Callable[[list[types.Tool]], Mapping[Capability, str]]


@dataclass(frozen=True, slots=True)
class Toolbox:
    tools: Mapping[str, types.Tool]
    writes: frozenset[str]
    capabilities: Mapping[str, Capability]  # tool name → what it does, for the tools we recognise
    definitions: tuple[dict[str, Any], ...]  # Anthropic tool params; the last one carries the cache breakpoint

    def is_write(self, name: str) -> bool:
        return name in self.writes

    def capability(self, name: str) -> Capability | None:
        return self.capabilities.get(name)


def build_toolbox(tools: list[types.Tool], writes: set[str], classify: Classify) -> Toolbox:
    usable = [t for t in tools if _TOOL_NAME.match(t.name)]
    for skipped in {t.name for t in tools} - {t.name for t in usable}:
        log.warning("skipping a Rollout tool whose name the model API would reject: %r", skipped[:80])
    definitions = [definition(t) for t in usable]
    if definitions:
        # One breakpoint after the last tool caches every tool definition.
        definitions[-1] = {**definitions[-1], "cache_control": {"type": "ephemeral"}}
    by_capability = classify(usable)
    return Toolbox(
        tools={t.name: t for t in usable},
        writes=frozenset(writes) & {t.name for t in usable},
        capabilities={name: capability for capability, name in by_capability.items()},
        definitions=tuple(definitions),
    )


def definition(tool: types.Tool) -> dict[str, Any]:
    schema = copy.deepcopy(tool.input_schema) if isinstance(tool.input_schema, dict) else {}
    schema["type"] = "object"
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name in HIDDEN_PARAMETERS:
            properties.pop(name, None)
    else:
        schema["properties"] = {}
    if isinstance(schema.get("required"), list):
        schema["required"] = [r for r in schema["required"] if r not in HIDDEN_PARAMETERS]
    description = (tool.description or tool.title or tool.name)[:_MAX_DESCRIPTION]
    return {"name": tool.name, "description": description, "input_schema": schema}


def model_arguments(raw: Any) -> dict[str, Any]:
    """The arguments the model sent, minus any credential it tried to pick (we inject the user's own)."""
    if not isinstance(raw, dict):
        return {}
    return {key: value for key, value in raw.items() if key not in HIDDEN_PARAMETERS}
