"""Hostile data for property tests: mentions, entities, markup, bidi and zero-width characters, huge strings."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from bot.rollout.outcomes import Credential, Note, Person, PersonSummary, Task

FAST = settings(max_examples=50, deadline=None)

NASTY_PIECES = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S1>",
    "<@U123>",
    "<#C1|general>",
    "<https://evil.example|click me>",
    "<mailto:x@y.z|mail>",
    "&amp;",
    "&lt;",
    "&gt;",
    "&",
    "<",
    ">",
    "|",
    "*bold*",
    "_it_",
    "~s~",
    "`",
    "```",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x1b[31m",
    "\u202e",  # right-to-left override
    "\u2066",
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",
    "\ud800",  # lone surrogate
    "\u2028",
    "👨‍👩‍👧‍👦",
    "🇺🇸",
    "👍🏽",
    "é",
    "e\u0301",
    "مرحبا بالعالم",
    "שלום",
    "日本語",
    "javascript:alert(1)",
    "https://example.com/a?b=1&c=<2>",
    " ",
)

nasty_piece = st.sampled_from(NASTY_PIECES)
# Mixed short hostile text, and the occasional very long one (a piece repeated up to 10k chars).
hostile_text = st.one_of(
    st.lists(st.one_of(nasty_piece, st.text(max_size=20)), max_size=25).map("".join),
    st.builds(lambda piece, count: (piece * count)[:12000], nasty_piece, st.integers(1, 6000)),
    st.text(max_size=200),
)
optional_text = st.none() | hostile_text
ids = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(["per_1", "cred_hubspot_1", "x" * 3000, 'a"b\\c', "\ud800"]),
)
urls = (
    st.none()
    | st.sampled_from(
        [
            "https://crm.example/people/1",
            "http://crm.example/p?a=1&b=2",
            "https://crm.example/p|x>y<z",
            "javascript:alert(1)",
            "ftp://crm.example/x",
            "https://",
            "https://crm.example/" + "a" * 4000,
            "https://crm.example/ünïcödé path",
            "mailto:ada@example.com",
        ]
    )
    | hostile_text
)

notes = st.builds(Note, id=ids, content=hostile_text, created_at=optional_text, author=optional_text)
tasks = st.builds(
    Task,
    id=ids,
    title=hostile_text,
    due_date=st.none() | st.sampled_from(["2026-12-01", "not a date"]) | hostile_text,
    status=st.none() | st.sampled_from(["open", "completed", "DONE"]) | hostile_text,
    description=optional_text,
)
people = st.builds(
    Person,
    id=ids,
    name=hostile_text,
    email=st.none() | st.sampled_from(["ada@example.com", "a&b<c>@x.y", "<@U1>@x.com"]) | hostile_text,
    title=optional_text,
    company=optional_text,
    phone=optional_text,
    owner=optional_text,
    stage=optional_text,
    last_activity=optional_text,
    url=urls,
    notes=st.lists(notes, max_size=8).map(tuple),
    tasks=st.lists(tasks, max_size=8).map(tuple),
)
summaries = st.builds(
    PersonSummary, id=ids, name=hostile_text, email=optional_text, title=optional_text, company=optional_text
)
credentials = st.builds(Credential, id=ids, provider=hostile_text, label=hostile_text)
