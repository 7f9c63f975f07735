"""Escaping and truncation for untrusted text (CRM data, user input, LLM output) on its way into Block Kit.

Lengths are counted in UTF-16 code units: that is never less than the code-point count slack_sdk validates, so a
text that fits here fits everywhere Slack might count.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time
from urllib.parse import quote, urlsplit

from bot.emails import is_email

ELLIPSIS = "…"

# Slack's documented limits, in one place so builders and tests agree.
HEADER_TEXT = 150
SECTION_TEXT = 3000
SECTION_FIELD = 2000
SECTION_FIELDS = 10
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
BUTTON_URL = 3000
CONTEXT_ELEMENT = 2000
CONTEXT_ELEMENTS = 10
OPTION_TEXT = 75
OPTION_VALUE = 150
SELECT_OPTIONS = 100
PLACEHOLDER = 150
MODAL_TITLE = 24
MODAL_BUTTON = 24
INPUT_LABEL = 2000
PLAIN_TEXT_INPUT = 3000  # the largest max_length a plain_text_input accepts
PRIVATE_METADATA = 3000
MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
BLOCK_ID = 255
# Our own cap for a URL inside a <url|label> link, so one link never crowds out a whole text.
LINK_URL = 1000

_ENTITIES = ("&amp;", "&lt;", "&gt;")
# Control characters other than tab and newline (category Cc), lone surrogates, and bidi overrides/isolates, which
# can make a card read differently from what it says ("Trojan Source").
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_LINE_SEPARATORS = re.compile("\r\n|[\u2028\u2029\x85]")
_NOT_IN_URL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_WHITESPACE_RUN = re.compile(r"\s+")
# Look-alikes for mrkdwn markers, used only where untrusted text sits between our own markers.
_FORMATTING_LOOKALIKES = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
_SAFE_URL_SCHEMES = frozenset({"http", "https"})
# Characters with a meaning inside Slack's <url|label> syntax, or that break it, percent-encoded in URLs.
_URL_UNSAFE = {"<": "%3C", ">": "%3E", "|": "%7C", " ": "%20", '"': "%22", "`": "%60"}


def slack_len(text: str) -> int:
    """Length as UTF-16 code units (astral characters such as most emoji count twice)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean(text: str | None, *, single_line: bool = False) -> str:
    """Drop characters that have no business in a Slack text: control and bidi-override characters, lone surrogates.

    single_line also folds newlines and runs of whitespace into one space (names, labels, button texts).
    """
    if not text:
        return ""
    result = _UNWANTED.sub("", _LINE_SEPARATORS.sub("\n", text))
    if single_line:
        return _WHITESPACE_RUN.sub(" ", result).strip()
    return result.strip()


def escape_mrkdwn(text: str | None) -> str:
    """Escape the three characters Slack treats as control characters, so CRM text can never mention or link."""
    cleaned = clean(text)
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_inline(text: str | None) -> str:
    """escape_mrkdwn, single line, with formatting markers swapped for look-alikes.

    For untrusted text placed between our own markers (`*{name}*`), where a stray `*` or backtick would end them.
    """
    return escape_mrkdwn(clean(text, single_line=True)).translate(_FORMATTING_LOOKALIKES)


def unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_SLACK_MARKUP = re.compile(r"<([^<>\n]*)>")


def slack_to_plain(text: str | None) -> str:
    """A Slack message's text (as events and shortcuts deliver it) made readable outside Slack.

    `<@U1>` → `@U1`, `<#C1|general>` → `#general`, `<!here>` → `@here`, `<https://x|label>` → `label (https://x)`.
    """

    def readable(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^", 1)[0]
        if label and label != target:
            return f"{label} ({target})"
        return target

    return clean(unescape_slack(_SLACK_MARKUP.sub(readable, text or "")))


def _prefix_within(text: str, budget: int) -> int:
    """How many code points of text fit into budget UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > budget:
            return index
    return len(text)


def _is_joined_to_previous(char: str) -> bool:
    # Cutting before one of these would split an emoji sequence or a letter from its accent.
    return (
        char in "\u200d\ufe0e\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
    )


def _grapheme_safe(text: str, cut: int) -> int:
    while 0 < cut < len(text) and (_is_joined_to_previous(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    return cut


def _markup_safe(text: str, cut: int) -> int:
    """Move cut back so it does not fall inside an entity (`&amp;`) or inside our own `<url|label>` markup."""
    amp = text.rfind("&", max(0, cut - 4), cut)
    if amp != -1:
        for entity in _ENTITIES:
            if text.startswith(entity, amp) and amp + len(entity) > cut:
                cut = amp
                break
    opening = text.rfind("<", 0, cut)
    if opening != -1 and text.find(">", opening, cut) == -1:
        cut = opening
    return cut


def cut_index(text: str, budget: int, *, mrkdwn: bool) -> int:
    """Where to cut text so the head fits budget UTF-16 units without splitting a character sequence or, for
    mrkdwn, an entity or a link."""
    cut = _grapheme_safe(text, _prefix_within(text, budget))
    return _markup_safe(text, cut) if mrkdwn else cut


def is_markup_safe_cut(text: str, cut: int) -> bool:
    return _markup_safe(text, cut) == cut


def _truncate(text: str, limit: int, *, mrkdwn: bool) -> str:
    if slack_len(text) <= limit:
        return text
    cut = cut_index(text, limit - slack_len(ELLIPSIS), mrkdwn=mrkdwn)
    return text[:cut].rstrip() + ELLIPSIS


def truncate_plain(text: str, limit: int) -> str:
    """Cut plain text to limit, ending with an ellipsis when something was cut."""
    return _truncate(text, limit, mrkdwn=False)


def truncate_mrkdwn(text: str, limit: int) -> str:
    """Cut escaped mrkdwn to limit, never inside an entity or a link we generated."""
    return _truncate(text, limit, mrkdwn=True)


def safe_url(url: str | None, *, limit: int = BUTTON_URL) -> str | None:
    """An http(s) URL fit for a button or a `<url|label>` link, or None when it is anything else.

    Characters that would end or split Slack's link syntax are percent-encoded; the result is not entity-escaped.
    """
    if not url:
        return None
    candidate = url.strip()
    if _NOT_IN_URL.search(candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SAFE_URL_SCHEMES or not parts.hostname:
        return None
    encoded = "".join(_URL_UNSAFE.get(char, char) for char in candidate)
    if not encoded.isascii():
        encoded = quote(encoded, safe="".join(chr(code) for code in range(0x21, 0x7F)))
    return encoded if len(encoded) <= limit else None


def link(url: str | None, label: str) -> str:
    """`<url|label>` with label escaped, or just the escaped label when the URL is not safe to link."""
    target = safe_url(url, limit=LINK_URL)
    text = escape_mrkdwn(clean(label, single_line=True)).replace("|", "¦")
    if target is None:
        return text
    return f"<{target.replace('&', '&amp;')}|{text}>"


def is_plausible_email(text: str | None) -> bool:
    """Looks like an address and cannot break Slack markup (no spaces, `<`, `>`, `|`, `&`)."""
    return text is not None and is_email(text)


def email_link(email: str | None) -> str:
    """A mailto link for a plausible address; anything else is shown escaped and unlinked."""
    address = clean(email, single_line=True)
    if is_plausible_email(address):
        return f"<mailto:{address}|{address}>"
    return escape_mrkdwn(address)


def slack_date(when: str | None) -> str:
    """A CRM timestamp or date as Slack's date token, shown in each reader's own locale and time zone.

    Anything that isn't ISO 8601 is shown as the CRM gave it, escaped.
    """
    raw = clean(when, single_line=True)
    if not raw:
        return ""
    try:
        if len(raw) == 10:
            # A bare date is a calendar day, not an instant: noon UTC keeps it on the same day in every time zone.
            moment = datetime.combine(date.fromisoformat(raw), time(12), tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        return escape_mrkdwn(truncate_plain(raw, 40))
    fallback = moment.date().isoformat()
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}}|{fallback}>"
