"""The App Home tab: what is connected, quick actions, and what the user did recently."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View as SlackView

from bot.blocks.elements import actions, button, context, divider, header, section
from bot.blocks.follows import digest_switch, name_of, unfollow_button
from bot.blocks.person import credential_line
from bot.blocks.text import escape_mrkdwn, truncate_mrkdwn
from bot.ids import SLASH_COMMAND, Action
from bot.rollout.outcomes import Credential, Following

LISTED_CREDENTIALS = 20
RECENT_ACTIONS = 15
RECENT_ACTION_PREVIEW = 100
LISTED_FOLLOWS = 15  # a home view holds 100 blocks, and each person takes one: the rest is a line


def _when(moment: datetime) -> str:
    """Slack's date token: shown in the reader's own time zone. Naive datetimes are taken as UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    stamp = int(aware.timestamp())
    fallback = aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>"


def _connection_status(connected: Sequence[Credential], default_id: str | None) -> str:
    if not connected:
        return "*No CRM connected yet.* Connect one to look people up, add notes and create tasks from Slack."
    lines = [
        f"• {credential_line(credential)}" + ("  ✅ default" if credential.id == default_id else "")
        for credential in connected[:LISTED_CREDENTIALS]
    ]
    if len(connected) > LISTED_CREDENTIALS:
        lines.append(f"…and {len(connected) - LISTED_CREDENTIALS} more")
    return "*Connected CRM accounts*\n" + "\n".join(lines)


def _recent_lines(recent: Sequence[tuple[str, datetime]]) -> str:
    if not recent:
        return "*Recent actions*\nNothing yet."
    lines = [
        f"• {truncate_mrkdwn(escape_mrkdwn(text), RECENT_ACTION_PREVIEW) or '—'} — {_when(moment)}"
        for text, moment in recent[:RECENT_ACTIONS]
    ]
    return "*Recent actions*\n" + "\n".join(lines)


def _following_blocks(following: Following) -> list[Block]:
    """Who the user follows, each with Unfollow (the first few; the command lists them all), and the digest switch."""
    if not following.people:
        said = (
            "*People you follow*\nNo one yet. Follow a person from their card (or "
            f"`{SLASH_COMMAND} follow ada@example.com`) and the morning digest tells you what changed for them."
        )
        return [section(said), *digest_switch(following.digest_on)]
    blocks: list[Block] = [section(f"*People you follow* ({len(following.people)})")]
    for person in following.people[:LISTED_FOLLOWS]:
        blocks.append(section(name_of(person), accessory=unfollow_button(person)))
    more = len(following.people) - LISTED_FOLLOWS
    if more > 0:
        blocks.append(context(f"…and {more} more — `{SLASH_COMMAND} following` lists everyone."))
    return [*blocks, *digest_switch(following.digest_on)]


def home_view(
    connected: Sequence[Credential],
    default_id: str | None,
    recent: Sequence[tuple[str, datetime]],
    following: Following | None = None,
) -> SlackView:
    """following: who the user follows and whether their digest is on; None leaves that section out."""
    quick_actions = [
        button("Connect a CRM", Action.HOME_CONNECT, style=None if connected else "primary"),
        button("Look up a person", Action.HOME_LOOKUP, style="primary" if connected else None),
    ]
    blocks = [
        header("Rollout for Slack"),
        section(_connection_status(connected, default_id)),
        *actions(quick_actions),
        divider(),
        *([*_following_blocks(following), divider()] if following is not None else []),
        section(_recent_lines(recent)),
        context(f"Type `{SLASH_COMMAND} help` in any channel for commands, or message me in plain words."),
    ]
    return SlackView(type="home", blocks=blocks)
