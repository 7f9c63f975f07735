from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.blocks import answer_blocks, markdown_to_mrkdwn, split_for_slack

from . import slack_checks as check
from .strategies import FAST, NASTY_PIECES, hostile_text


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italic* and _italic_", "_italic_ and _italic_"),
        ("~~gone~~", "~gone~"),
        ("**bold with *italic* inside**", "*bold with _italic_ inside*"),
        ("snake_case_name and 2 * 3 * 4", "snake_case_name and 2 * 3 * 4"),
        ("[the doc](https://x.example/a?b=1&c=2)", "<https://x.example/a?b=1&amp;c=2|the doc>"),
        ("[mail me](mailto:ada@example.com)", "<mailto:ada@example.com|mail me>"),
        ("[bad](javascript:alert(1))", "[bad](javascript:alert(1))"),
        ("[label <b>](https://x.example)", "<https://x.example|label &lt;b&gt;>"),
        ("see https://x.example/p?a=1&b=2.", "see <https://x.example/p?a=1&amp;b=2>."),
        ("(https://x.example/wiki_(thing))", "(<https://x.example/wiki_(thing)>)"),
        ("<https://x.example>", "<https://x.example>"),
        ("# Title", "*Title*"),
        ("### **Bold** title ###", "*Bold title*"),
        ("- one\n* two\n+ three", "• one\n• two\n• three"),
        ("- top\n  - nested", "• top\n  • nested"),
        ("- [ ] todo\n- [x] done", "☐ todo\n☑ done"),
        ("1. first", "1. first"),
        ("> quoted **text**", "> quoted *text*"),
        ("---", "──────────"),
        ("`a <b> **c**`", "`a &lt;b&gt; **c**`"),
        (r"\*not italic\*", "*not italic*"),
        ("<!channel> & <@U1> &amp;", "&lt;!channel&gt; &amp; &lt;@U1&gt; &amp;amp;"),
        ("```python\nif a < b and **c**:\n    pass\n```", "```\nif a &lt; b and **c**:\n    pass\n```"),
        ("```\nunclosed <code>", "```\nunclosed &lt;code&gt;\n```"),
        ("text\u202e reversed", "text reversed"),
        (
            "| Name | Stage |\n|---|:---:|\n| Ada <x> | Lead |\nafter",
            "```\n| Name | Stage |\n|---|:---:|\n| Ada &lt;x&gt; | Lead |\n```\nafter",
        ),
        ("| not a table |\nplain", "| not a table |\nplain"),
    ],
)
def test_markdown_becomes_slack_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert markdown_to_mrkdwn(markdown) == mrkdwn


@FAST
@given(
    text=st.lists(
        st.one_of(hostile_text, st.sampled_from(["**", "__", "[a](", "](https://x.example)", "# "])), max_size=8
    ).map("".join)
)
def test_markdown_to_mrkdwn_output_is_always_safe(text: str) -> None:
    check.assert_safe_mrkdwn(markdown_to_mrkdwn(text))


def test_split_for_slack_keeps_short_text_whole() -> None:
    assert split_for_slack("one\n\ntwo") == ["one\n\ntwo"]
    assert split_for_slack("") == []


def test_split_for_slack_splits_between_paragraphs_first() -> None:
    paragraphs = ["a" * 40, "b" * 40, "c" * 40]
    assert split_for_slack("\n\n".join(paragraphs), limit=90) == ["a" * 40 + "\n\n" + "b" * 40, "c" * 40]


def test_split_for_slack_then_lines_then_words() -> None:
    assert split_for_slack("line one\nline two\nline three", limit=18) == ["line one\nline two", "line three"]
    assert split_for_slack("word " * 10, limit=12) == ["word word", "word word", "word word", "word word", "word word"]


def test_split_for_slack_keeps_a_code_block_together_when_it_fits() -> None:
    code = "```\ncode line\n\nmore code\n```"
    chunks = split_for_slack(f"{'intro ' * 5}\n\n{code}\n\noutro", limit=34)
    assert chunks == ["intro " * 4 + "intro", code, "outro"]


def test_split_for_slack_reopens_fences_when_a_code_block_must_be_split() -> None:
    code = "```\n" + "\n".join(f"line {n}" for n in range(30)) + "\n```"
    chunks = split_for_slack(code, limit=60)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.startswith("```\n") and chunk.endswith("\n```") and len(chunk) <= 60
    assert "\n".join(chunk[4:-4] for chunk in chunks) == "\n".join(f"line {n}" for n in range(30))


def test_split_for_slack_does_not_break_links_or_entities() -> None:
    text = markdown_to_mrkdwn("see [the long label here](https://x.example/page) &&& and more words")
    chunks = split_for_slack(text, limit=50)
    assert chunks == ["see <https://x.example/page|the long label here>", "&amp;&amp;&amp; and more words"]


@FAST
@given(text=hostile_text, limit=st.integers(40, 3000))
def test_split_for_slack_pieces_fit_and_lose_no_words(text: str, limit: int) -> None:
    mrkdwn = markdown_to_mrkdwn(text)
    chunks = split_for_slack(mrkdwn, limit)
    for chunk in chunks:
        assert chunk.strip() and check.utf16_len(chunk) <= limit
        check.assert_safe_mrkdwn(chunk)
    kept = "".join("".join(chunks).replace("```", "").split())
    assert kept == "".join(mrkdwn.replace("```", "").split())


def test_answer_blocks_are_sections_of_converted_text() -> None:
    blocks = check.message(answer_blocks("**Ada** works at [Acme](https://acme.example)."))
    assert blocks == [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Ada* works at <https://acme.example|Acme>.", "verbatim": True},
        }
    ]
    assert answer_blocks("   ") == []


def test_answer_blocks_cut_a_huge_answer_at_the_block_limit() -> None:
    huge = "\n\n".join("paragraph " * 290 for _ in range(80))
    blocks = check.message(answer_blocks(huge))
    assert len(blocks) == 50
    assert "too long to show in full" in check.all_text(blocks[-1:])
    assert len(check.message(answer_blocks(huge, max_blocks=3))) == 3


@FAST
@given(text=st.lists(st.sampled_from([*NASTY_PIECES, "**", "# ", "- ", "\n\n", "```\n"]), max_size=400).map("".join))
def test_answer_blocks_are_valid_for_hostile_markdown(text: str) -> None:
    check.message(answer_blocks(text))
