"""Which Rollout tools are reads, clause by clause: each part of the read rule and each part of what makes a tool a
write is exercised alone, so dropping any one of them fails a test here.

The rule (bot/rollout/tools.py): a tool is a read only when the server says so (`readOnlyHint: true`), or when its
name matches a read capability by whole words and nothing marks it as changing data (`destructiveHint: true`,
`readOnlyHint: false`, or a changing word in the name). A write capability never maps to a tool annotated read-only or
destructive.
"""

from __future__ import annotations

import mcp_types as types

from bot.rollout.tools import Capability, classify, is_read

READ_ONLY = types.ToolAnnotations(read_only_hint=True)
DESTRUCTIVE_ONLY = types.ToolAnnotations(destructive_hint=True)  # readOnlyHint left unsaid
NOT_READ_ONLY = types.ToolAnnotations(read_only_hint=False)  # destructiveHint left unsaid
READ_ONLY_AND_DESTRUCTIVE = types.ToolAnnotations(read_only_hint=True, destructive_hint=True)


def tool(name: str, annotations: types.ToolAnnotations | None = None) -> types.Tool:
    return types.Tool(name=name, input_schema={"type": "object"}, annotations=annotations)


# ---- what makes a tool a read, each clause alone --------------------------------------------------------------


def test_read_only_hint_alone_makes_a_tool_a_read_whatever_its_name() -> None:
    report = tool("export_quarterly_report", READ_ONLY)  # fits no read capability by name

    assert is_read(report)
    assert classify([report], {}).reads == {"export_quarterly_report"}


def test_an_unannotated_tool_named_like_a_read_by_whole_words_is_a_read_and_serves_the_overview() -> None:
    overview = tool("get_person_overview")

    found = classify([overview], {})

    assert is_read(overview)
    assert found.capabilities[Capability.PERSON_OVERVIEW] == "get_person_overview"


def test_read_only_and_destructive_together_follow_the_read_only_hint() -> None:
    # MCP: destructiveHint only means something when readOnlyHint is false; the bot's rule takes the server's word.
    overview = tool("get_person_overview", READ_ONLY_AND_DESTRUCTIVE)

    assert is_read(overview)
    assert classify([overview], {}).capabilities[Capability.PERSON_OVERVIEW] == "get_person_overview"


# ---- what makes a tool a write, each clause alone -------------------------------------------------------------


def test_destructive_hint_alone_makes_an_overview_named_tool_a_write_and_never_the_overview() -> None:
    tools = [tool("get_person_overview", DESTRUCTIVE_ONLY)]

    found = classify(tools, {})

    assert not is_read(tools[0])
    assert found.writes(tools) == {"get_person_overview"}
    assert Capability.PERSON_OVERVIEW not in found.capabilities
    assert Capability.PERSON_OVERVIEW in found.missing


def test_read_only_hint_false_alone_makes_an_overview_named_tool_a_write_and_never_the_overview() -> None:
    tools = [tool("get_person_overview", NOT_READ_ONLY)]

    found = classify(tools, {})

    assert not is_read(tools[0])
    assert Capability.PERSON_OVERVIEW not in found.capabilities


def test_a_read_word_inside_another_word_does_not_make_a_read() -> None:
    # "get" sits inside "budget": only whole words count, so nothing here names a read.
    tools = [tool("budget_contacts_export")]

    found = classify(tools, {})

    assert not is_read(tools[0])
    assert found.writes(tools) == {"budget_contacts_export"}
    assert Capability.PERSON_OVERVIEW not in found.capabilities


def test_a_changing_word_makes_an_unannotated_read_name_a_write_and_never_the_overview() -> None:
    tools = [tool("get_and_delete_person")]  # "get" + "person" fit the overview; "delete" changes data

    found = classify(tools, {})

    assert not is_read(tools[0])
    assert found.writes(tools) == {"get_and_delete_person"}
    assert Capability.PERSON_OVERVIEW not in found.capabilities


def test_a_setting_cannot_make_a_tool_annotated_only_destructive_the_overview() -> None:
    tools = [tool("get_person_overview", READ_ONLY), tool("lookup_person", DESTRUCTIVE_ONLY)]

    found = classify(tools, {Capability.PERSON_OVERVIEW: "lookup_person"})

    assert Capability.PERSON_OVERVIEW not in found.capabilities
    assert "lookup_person" in found.writes(tools)


# ---- write capabilities never map to a tool that says otherwise ------------------------------------------------


def test_a_create_note_annotated_only_destructive_never_serves_notes() -> None:
    tools = [tool("create_note", DESTRUCTIVE_ONLY)]

    found = classify(tools, {})

    assert Capability.CREATE_NOTE not in found.capabilities
    assert found.writes(tools) == {"create_note"}  # still a write: the agent may propose it, behind a click


def test_a_create_note_annotated_read_only_never_serves_notes() -> None:
    tools = [tool("create_note", READ_ONLY)]

    assert Capability.CREATE_NOTE not in classify(tools, {}).capabilities
