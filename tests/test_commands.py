"""The /rollout parser: forgiving about quotes, emails and Slack markup; every miss says what to type."""

from __future__ import annotations

from datetime import date

import pytest

from bot.commands import (
    AddNote,
    Connect,
    CreatePerson,
    CreateTask,
    FreeText,
    Help,
    ListCredentials,
    Overview,
    parse,
    parse_due,
)

TODAY = date(2026, 11, 26)  # a Thursday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("help", Help()),
        ("overview ada@example.com", Overview("ada@example.com")),
        ("overview <mailto:ada@example.com|ada@example.com>", Overview("ada@example.com")),
        ('overview "Ada Lovelace"', Overview("Ada Lovelace")),
        ("Overview Ada Lovelace", Overview("Ada Lovelace")),
        ('note "Ada Lovelace" Called about renewal', AddNote("Ada Lovelace", "Called about renewal")),
        ("note Ada Lovelace: met at the conference", AddNote("Ada Lovelace", "met at the conference")),
        ("note ada@example.com", AddNote("ada@example.com", "")),
        (
            "task ada@example.com Send proposal due friday",
            CreateTask("ada@example.com", "Send proposal", date(2026, 11, 27)),
        ),
        ("task ada Send proposal due 2026-12-03", CreateTask("ada", "Send proposal", date(2026, 12, 3))),
        ("task ada Send proposal due whenever", CreateTask("ada", "Send proposal", None, "whenever")),
        ("task ada", CreateTask("ada", "")),
        # the last "due …" phrase is the date, whatever words come before it
        (
            "task ada Follow up on pricing due friday",
            CreateTask("ada", "Follow up on pricing", date(2026, 11, 27)),
        ),
        ("task ada Call back on monday due 2026-12-03", CreateTask("ada", "Call back on monday", date(2026, 12, 3))),
        ("task ada Follow up on pricing", CreateTask("ada", "Follow up on pricing")),
        ("task ada Follow up on pricing due someday", CreateTask("ada", "Follow up on pricing", None, "someday")),
        # a colon between digits is a time, not the end of the person's name
        ("note ada@x.example Call at 10:30 went well", AddNote("ada@x.example", "Call at 10:30 went well")),
        ("note Ada Lovelace: call at 10:30 went well", AddNote("Ada Lovelace", "call at 10:30 went well")),
        # an email ends the person, even before a colon that follows a time
        ("note ada@example.com Meeting at 10:30: went well", AddNote("ada@example.com", "Meeting at 10:30: went well")),
        ("note ada@example.com Agenda: pricing", AddNote("ada@example.com", "Agenda: pricing")),
        ("note Ada Meeting at 10:30 went well", AddNote("Ada", "Meeting at 10:30 went well")),
        ("note Ada Meeting at 10:30: went well", AddNote("Ada", "Meeting at 10:30: went well")),
        (
            "task ada@example.com Prep: slides due friday",
            CreateTask("ada@example.com", "Prep: slides", date(2026, 11, 27)),
        ),
        # a quoted name ends the person, whatever quotes the note holds
        ('note "Ada Lovelace" Said "yes" to it', AddNote("Ada Lovelace", 'Said "yes" to it')),
        ('note "Ada Lovelace" "Called" and "agreed"', AddNote("Ada Lovelace", '"Called" and "agreed"')),
        ('note "Ada Lovelace" Agenda: pricing', AddNote("Ada Lovelace", "Agenda: pricing")),
        ("note “Ada Lovelace” Called: yes", AddNote("Ada Lovelace", "Called: yes")),
        ("person Grace Hopper grace@navy.example", CreatePerson("Grace", "Hopper", "grace@navy.example")),
        ("person Grace Hopper", CreatePerson("Grace", "Hopper", "")),
        ("credentials", ListCredentials()),
        ("connect", Connect()),
        ("what's new with <@U123|ada>?", FreeText("what's new with ada?")),
        ("remind me to call her friday", FreeText("remind me to call her friday")),
    ],
)
def test_each_text_parses_to_its_command(text: str, expected: object) -> None:
    assert parse(text, today=TODAY) == expected


@pytest.mark.parametrize("text", ["overview", "note", "task", "person"])
def test_missing_parts_explain_what_to_type(text: str) -> None:
    parsed = parse(text, today=TODAY)
    assert isinstance(parsed, Help)
    assert parsed.problem is not None and "/rollout" in parsed.problem


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("today", date(2026, 11, 26)),
        ("tomorrow", date(2026, 11, 27)),
        ("thursday", date(2026, 12, 3)),  # "thursday" said on a Thursday means next week's
        ("mon", date(2026, 11, 30)),
        ("in 3 days", date(2026, 11, 29)),
        ("next week", date(2026, 12, 3)),
        ("2027-01-05", date(2027, 1, 5)),
        ("someday", None),
    ],
)
def test_due_dates_are_read_relative_to_today_or_not_at_all(when: str, expected: date | None) -> None:
    assert parse_due(when, TODAY) == expected
