"""The App Home tab: what is connected, quick actions, and what the user did recently."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk.models.views import View as SlackView

from bot.blocks.elements import actions, button, context, divider, header, section
from bot.blocks.person import credential_line
from bot.blocks.text import escape_mrkdwn, truncate_mrkdwn
from bot.ids import SLASH_COMMAND, Action
from bot.rollout.outcomes import Credential

LISTED_CREDENTIALS = 20
RECENT_ACTIONS = 15
RECENT_ACTION_PREVIEW = 100


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


def home_view(
    connected: Sequence[Credential], default_id: str | None, recent: Sequence[tuple[str, datetime]]
) -> SlackView:
    quick_actions = [
        button("Connect a CRM", Action.HOME_CONNECT, style=None if connected else "primary"),
        button("Look up a person", Action.HOME_LOOKUP, style="primary" if connected else None),
    ]
    blocks = [
        header("Rollout for Slack"),
        section(_connection_status(connected, default_id)),
        *actions(quick_actions),
        divider(),
        section(_recent_lines(recent)),
        context(f"Type `{SLASH_COMMAND} help` in any channel for commands, or message me in plain words."),
    ]
    return SlackView(type="home", blocks=blocks)
