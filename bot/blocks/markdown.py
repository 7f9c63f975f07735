"""The assistant's Markdown turned into Slack mrkdwn, split into section-sized pieces.

Everything the model writes is escaped like CRM text: the only `<...>` in the output are links built here from
http(s)/mailto URLs, so an answer can never mention @channel or a user.
"""

from __future__ import annotations

import re

from slack_sdk.models.blocks import Block

from bot.blocks.elements import context, section
from bot.blocks.text import (
    LINK_URL,
    MESSAGE_BLOCKS,
    SECTION_TEXT,
    clean,
    cut_index,
    is_markup_safe_cut,
    is_plausible_email,
    link,
    safe_url,
    slack_len,
)

FENCE = "```"
_RULE = "──────────"

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.*?)\s*#*\s*$")
_HORIZONTAL_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(?P<text>.*)$")
_TASK_ITEM = re.compile(r"^(?P<indent>\s*)[-*+]\s+\[(?P<done>[ xX])\]\s+(?P<text>.*)$")
_BULLET = re.compile(r"^(?P<indent>\s*)[-*+]\s+(?P<text>.*)$")
_FENCE_LINE = re.compile(r"^\s{0,3}(?P<marker>```+|~~~+)")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)+\|?\s*$")
# Spans are bounded so a long line full of unmatched markers stays linear rather than quadratic.
_INLINE = re.compile(
    r"\\(?P<escaped>[\\`*_{}\[\]()#+\-.!~|<>])"
    r"|(?P<ticks>`+)(?P<code>.{1,2000}?)(?P=ticks)"
    r"|\[(?P<link_text>[^\]\n]{1,500})\]\((?P<link_url>[^()\s]{1,2000})(?:\s+\"[^\"\n]{0,500}\")?\)"
    r"|<(?P<autolink>https?://[^<>\s]{1,2000})>"
    r"|(?P<url>https?://[^\s<>\[\]]+)"
    r"|\*\*(?P<bold>(?!\s).{1,400}?(?<!\s))\*\*"
    r"|__(?P<bold_underscores>(?!\s).{1,400}?(?<!\s))__"
    r"|~~(?P<strike>(?!\s).{1,400}?(?<!\s))~~"
    r"|(?<![\w*])\*(?P<italic>(?![\s*]).{1,400}?(?<![\s*]))\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic_underscores>(?![\s_]).{1,400}?(?<![\s_]))_(?![\w_])"
)
_URL_TRAILING_PUNCTUATION = ".,;:!?'\"*_~"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link_target(url: str) -> str | None:
    if url.lower().startswith("mailto:") and is_plausible_email(url[len("mailto:") :]):
        return url
    return safe_url(url, limit=LINK_URL)


def _markdown_link(url: str, text: str) -> str:
    target = _link_target(url)
    if target is None:
        return _inline(text)
    if target.startswith("mailto:"):
        label = _escape(text).replace("|", "¦")
        return f"<{target}|{label}>"
    return link(target, text)


def _bare_url(url: str) -> tuple[str, str]:
    """The URL and any trailing punctuation that belongs to the sentence rather than to the URL."""
    trailing = ""
    while url and (url[-1] in _URL_TRAILING_PUNCTUATION or (url[-1] == ")" and url.count("(") < url.count(")"))):
        trailing = url[-1] + trailing
        url = url[:-1]
    return url, trailing


def _inline(text: str) -> str:
    """Inline Markdown → mrkdwn; text between the constructs is escaped."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(_escape(text[position : match.start()]))
        position = match.end()
        groups = match.groupdict()
        if groups["escaped"] is not None:
            out.append(_escape(groups["escaped"]))
        elif groups["code"] is not None:
            out.append(f"`{_escape(groups['code'].strip('`'))}`")
        elif groups["link_text"] is not None:
            out.append(_markdown_link(groups["link_url"], groups["link_text"]))
        elif groups["autolink"] is not None:
            target = safe_url(groups["autolink"], limit=LINK_URL)
            out.append(f"<{target.replace('&', '&amp;')}>" if target else _escape(groups["autolink"]))
        elif groups["url"] is not None:
            url, trailing = _bare_url(groups["url"])
            target = safe_url(url, limit=LINK_URL)
            out.append(f"<{target.replace('&', '&amp;')}>" if target else _escape(url))
            out.append(_escape(trailing))
        elif groups["bold"] is not None or groups["bold_underscores"] is not None:
            out.append(f"*{_inline(groups['bold'] or groups['bold_underscores'])}*")
        elif groups["strike"] is not None:
            out.append(f"~{_inline(groups['strike'])}~")
        else:
            out.append(f"_{_inline(groups['italic'] or groups['italic_underscores'])}_")
    out.append(_escape(text[position:]))
    return "".join(out)


def _convert_line(line: str) -> str:
    if heading := _HEADING.match(line):
        # Bold markers inside a heading would close the bold we wrap it in.
        title = re.sub(r"\*\*|__", "", heading.group("text"))
        return f"*{_inline(title)}*" if title else ""
    if _HORIZONTAL_RULE.match(line):
        return _RULE
    depth = 0
    while quote := _QUOTE.match(line):  # a loop, not recursion: `>>>>…` thousands deep is possible input too
        line, depth = quote.group("text"), depth + 1
    if depth:
        # A lone `>` cannot form Slack markup (every `<` is escaped), so the quote markers are kept as they are.
        return "> " * depth + _convert_line(line)
    if task := _TASK_ITEM.match(line):
        box = "☑" if task.group("done").lower() == "x" else "☐"
        return f"{task.group('indent')}{box} {_inline(task.group('text'))}"
    if bullet := _BULLET.match(line):
        return f"{bullet.group('indent')}• {_inline(bullet.group('text'))}"
    return _inline(line)


def _table_end(lines: list[str], start: int) -> int:
    """The index after a Markdown table starting at start (a row, then a |---| line), or start when there is none."""
    if start + 1 >= len(lines) or not _TABLE_ROW.match(lines[start]) or not _TABLE_SEPARATOR.match(lines[start + 1]):
        return start
    end = start + 2
    while end < len(lines) and _TABLE_ROW.match(lines[end]):
        end += 1
    return end


def markdown_to_mrkdwn(text: str) -> str:
    """Common Markdown (bold, italic, strike, links, headings, lists, code, tables) as Slack mrkdwn, escaped."""
    lines = clean(text).split("\n")
    lines_out: list[str] = []
    open_fence: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE_LINE.match(line)
        if open_fence is not None:
            if fence and fence.group("marker")[0] == open_fence[0] and len(fence.group("marker")) >= len(open_fence):
                lines_out.append(FENCE)
                open_fence = None
            else:
                lines_out.append(_escape(line))
        elif fence:
            # Slack shows a language tag as the first line of code, so it is dropped.
            open_fence = fence.group("marker")
            lines_out.append(FENCE)
        elif (table_end := _table_end(lines, index)) > index:
            # Slack has no tables; in a code block the columns at least line up.
            lines_out += [FENCE, *(_escape(row.strip()) for row in lines[index:table_end]), FENCE]
            index = table_end
            continue
        else:
            lines_out.append(_convert_line(line))
        index += 1
    if open_fence is not None:
        lines_out.append(FENCE)
    return "\n".join(lines_out).strip()


# ---- splitting ----------------------------------------------------------------------------------------------------


def _is_fence(line: str) -> bool:
    stripped = line.strip()
    # "```code```" on one line opens and closes itself.
    return stripped.startswith(FENCE) and not (len(stripped) > 2 * len(FENCE) and stripped.endswith(FENCE))


def _units(text: str) -> list[str]:
    """Paragraphs, with every fenced code block (blank lines included) kept as one unit."""
    units: list[str] = []
    paragraph: list[str] = []
    code: list[str] | None = None

    def flush() -> None:
        if paragraph:
            units.append("\n".join(paragraph))
            paragraph.clear()

    for line in text.split("\n"):
        if code is not None:
            code.append(line)
            if _is_fence(line):
                units.append("\n".join(code))
                code = None
        elif _is_fence(line):
            flush()
            code = [line]
        elif line.strip():
            paragraph.append(line)
        else:
            flush()
    flush()
    if code is not None:
        units.append("\n".join([*code, FENCE]))
    return units


def _hard_split(text: str, limit: int) -> list[str]:
    """Cut a single long line into pieces of at most limit, preferring spaces, never inside an entity or a link."""
    pieces: list[str] = []
    rest = text
    while slack_len(rest) > limit:
        cut = _word_boundary(rest, cut_index(rest, limit, mrkdwn=True))
        if cut <= 0:
            # A single link longer than limit: splitting it beats looping forever.
            cut = max(1, cut_index(rest, limit, mrkdwn=False))
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return [piece for piece in pieces if piece]


def _word_boundary(text: str, cut: int) -> int:
    """The last space before cut that is not inside a link, if it is not too far back; else cut itself."""
    space = text.rfind(" ", 0, cut + 1)
    while space > cut // 2:
        if is_markup_safe_cut(text, space):
            return space
        space = text.rfind(" ", 0, space)
    return cut


def _pack(parts: list[str], limit: int, joiner: str) -> list[str]:
    chunks: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{joiner}{part}" if current else part
        if slack_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        current = part
    if current:
        chunks.append(current)
    return chunks


def _split_code(unit: str, limit: int) -> list[str]:
    """A code block too long for one section becomes several, each closed and reopened with fences."""
    lines = unit.split("\n")[1:]
    if lines and lines[-1].strip() == FENCE:
        lines = lines[:-1]
    budget = limit - 2 * (len(FENCE) + 1)
    pieces = [piece for line in lines for piece in (_hard_split(line, budget) if slack_len(line) > budget else [line])]
    return [f"{FENCE}\n{body}\n{FENCE}" for body in _pack(pieces, budget, "\n")]


def _split_unit(unit: str, limit: int) -> list[str]:
    if slack_len(unit) <= limit:
        return [unit]
    if _is_fence(unit.split("\n", 1)[0]) and limit > 4 * len(FENCE):
        return _split_code(unit, limit)
    lines = [piece for line in unit.split("\n") for piece in _hard_split(line, limit)]
    return _pack(lines, limit, "\n")


def split_for_slack(text: str, limit: int = SECTION_TEXT) -> list[str]:
    """Pieces of at most limit, split between paragraphs, then lines, then words; code blocks are split only when
    one alone is too long, and then each piece gets its own fences."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces = [piece for unit in _units(text) for piece in _split_unit(unit, limit)]
    return [chunk.strip() for chunk in _pack(pieces, limit, "\n\n") if chunk.strip()]


def answer_blocks(markdown: str, max_blocks: int = MESSAGE_BLOCKS) -> list[Block]:
    """An assistant answer as section blocks; [] for an empty answer. Cut short, with a note, past max_blocks."""
    if max_blocks < 1:
        raise ValueError("max_blocks must be positive")
    chunks = split_for_slack(markdown_to_mrkdwn(markdown))
    blocks: list[Block] = [section(chunk) for chunk in chunks]
    if len(blocks) > max_blocks:
        blocks = [*blocks[: max_blocks - 1], context("…the answer was too long to show in full.")]
    return blocks
