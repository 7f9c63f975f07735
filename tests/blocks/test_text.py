from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.text import (
    ELLIPSIS,
    clean,
    email_link,
    escape_inline,
    escape_mrkdwn,
    link,
    safe_url,
    slack_len,
    slack_to_plain,
    truncate_mrkdwn,
    truncate_plain,
)

from .slack_checks import assert_safe_mrkdwn
from .strategies import FAST, hostile_text


def test_escape_mrkdwn_turns_control_characters_into_entities() -> None:
    assert escape_mrkdwn("<!channel> & <@U123> <https://x|y>") == (
        "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://x|y&gt;"
    )


def test_escape_mrkdwn_escapes_existing_entities_again_so_they_show_literally() -> None:
    assert escape_mrkdwn("&amp;") == "&amp;amp;"


def test_clean_drops_control_bidi_and_surrogate_characters() -> None:
    assert clean("a\x00b\u202ec\ud800d\r\ne") == "abcd\ne"
    assert clean("  many \n\t spaces  ", single_line=True) == "many spaces"
    assert clean(None) == ""


def test_escape_inline_neutralises_formatting_markers() -> None:
    escaped = escape_inline("*bold* _it_ ~s~ `code` <x>")
    assert not set("*_~`<>") & set(escaped)
    assert "&lt;x&gt;" in escaped


def test_slack_len_counts_astral_characters_twice() -> None:
    assert slack_len("ab") == 2
    assert slack_len("😀") == 2


def test_truncate_keeps_short_text_and_cuts_long_text_with_an_ellipsis() -> None:
    assert truncate_plain("short", 10) == "short"
    cut = truncate_plain("a" * 20, 10)
    assert cut == "a" * 9 + ELLIPSIS
    assert slack_len(cut) == 10


@pytest.mark.parametrize("limit", range(2, 14))
def test_truncate_mrkdwn_never_cuts_inside_an_entity(limit: int) -> None:
    text = escape_mrkdwn("x<&>" * 5)
    cut = truncate_mrkdwn(text, limit)
    assert slack_len(cut) <= limit
    assert cut.endswith(ELLIPSIS)
    assert_safe_mrkdwn(cut.removesuffix(ELLIPSIS))


def test_truncate_mrkdwn_never_cuts_inside_a_link() -> None:
    text = "see " + link("https://example.com/" + "a" * 50, "the page") + " now"
    cut = truncate_mrkdwn(text, 30)
    assert cut == "see" + ELLIPSIS


def test_truncate_does_not_split_emoji_sequences() -> None:
    family = "👨‍👩‍👧‍👦"
    cut = truncate_plain("ab" + family * 3, 8)
    assert cut == "ab" + ELLIPSIS
    assert truncate_plain("e\u0301e\u0301e\u0301", 3) == "e\u0301" + ELLIPSIS


@FAST
@given(text=hostile_text, limit=st.integers(1, 3000))
def test_truncate_mrkdwn_fits_and_stays_safe(text: str, limit: int) -> None:
    cut = truncate_mrkdwn(escape_mrkdwn(text), limit)
    assert slack_len(cut) <= limit
    assert_safe_mrkdwn(cut)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://crm.example/p/1", "https://crm.example/p/1"),
        ("http://crm.example/p?a=1&b=2", "http://crm.example/p?a=1&b=2"),
        ("https://crm.example/a|b>c<d e", "https://crm.example/a%7Cb%3Ec%3Cd%20e"),
        ("https://crm.example/ü", "https://crm.example/%C3%BC"),
        ("javascript:alert(1)", None),
        ("ftp://crm.example/x", None),
        ("https://", None),
        ("https://crm.example/\x00", None),
        ("", None),
        (None, None),
        ("https://crm.example/" + "a" * 3000, None),
    ],
)
def test_safe_url_accepts_only_http_urls_and_encodes_link_syntax(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_link_escapes_label_and_url_and_falls_back_to_text() -> None:
    assert link("https://x.example/?a=1&b=2", "A <b> | c") == "<https://x.example/?a=1&amp;b=2|A &lt;b&gt; ¦ c>"
    assert link("javascript:alert(1)", "<!here>") == "&lt;!here&gt;"


def test_email_link_only_links_plausible_addresses() -> None:
    assert email_link("ada@example.com") == "<mailto:ada@example.com|ada@example.com>"
    assert email_link("<@U1>@x.com") == "&lt;@U1&gt;@x.com"
    assert email_link("not an email") == "not an email"


def test_slack_to_plain_makes_message_markup_readable() -> None:
    text = "Hi <@U1>, see <#C1|general> and <https://x.example|the doc> &amp; <!here> <https://y.example>"
    assert slack_to_plain(text) == "Hi @U1, see #general and the doc (https://x.example) & @here https://y.example"
