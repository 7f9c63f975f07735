"""What the user reads when something did not work, plus help and small status messages."""

from __future__ import annotations

from enum import StrEnum

from slack_sdk.models.blocks import Block

from bot.blocks.elements import context, section
from bot.blocks.text import clean, escape_mrkdwn
from bot.ids import SLASH_COMMAND
from bot.rollout.outcomes import FailureReason


class Notice(StrEnum):
    """What went wrong outside Rollout, as the user is told it (Rollout's own reasons are FailureReason)."""

    SLACK_ERROR = "slack_error"
    LLM_UNAVAILABLE = "llm_unavailable"
    LLM_NOT_CONFIGURED = "llm_not_configured"
    LLM_RATE_LIMITED = "llm_rate_limited"
    LLM_BUDGET = "llm_budget"
    LLM_BUDGET_TEAM = "llm_budget_team"
    NOT_YOUR_BUTTON = "not_your_button"
    EXPIRED = "expired"
    ALREADY_DONE = "already_done"
    WRITE_IN_PROGRESS = "write_in_progress"
    INVALID_INPUT = "invalid_input"
    NOT_FOUND = "not_found"
    INTERNAL = "internal"


Code = FailureReason | Notice
"""Every reason a user can be told: a name, never a bare string, so a typo fails the type check instead of reading
as "internal"."""

# Reason → one short sentence saying what happened and what to do about it.
USER_MESSAGES: dict[Code, str] = {
    FailureReason.UNREACHABLE: "I couldn't reach Rollout just now — try again in a minute.",
    FailureReason.TIMEOUT: "Rollout didn't answer in time — try again in a moment.",
    FailureReason.WRITE_UNCONFIRMED: "Rollout didn't confirm the change in time, so it may or may not have been "
    "saved — check the record in your CRM before trying again.",
    FailureReason.TOKEN_REJECTED: "Rollout didn't accept my credentials for you — try again, or reconnect with "
    f"`{SLASH_COMMAND} connect`.",
    FailureReason.INVALID_INPUT: "Your CRM didn't accept that — check the details and try again.",
    FailureReason.SERVER_ERROR: "Rollout hit an error on its side — try again in a minute.",
    FailureReason.TOOL_MISSING: "Your CRM connection can't do that — check which CRM you're using with "
    f"`{SLASH_COMMAND} credentials`.",
    FailureReason.CREDENTIAL_GONE: "That CRM account isn't connected any more — pick another with "
    f"`{SLASH_COMMAND} credentials` or reconnect with `{SLASH_COMMAND} connect`.",
    FailureReason.NEEDS_MORE: "I need a little more to do that.",
    Notice.SLACK_ERROR: "Slack didn't accept my reply — try again in a moment.",
    Notice.LLM_UNAVAILABLE: "The assistant isn't available right now — try a slash command, "
    f"e.g. `{SLASH_COMMAND} overview ada@example.com`.",
    Notice.LLM_NOT_CONFIGURED: "The assistant isn't set up in this workspace — use a slash command, "
    f"see `{SLASH_COMMAND} help`.",
    Notice.LLM_RATE_LIMITED: "The assistant is busy — try again in a minute.",
    Notice.LLM_BUDGET: "You've used today's assistant allowance; it resets at midnight UTC. Slash commands keep "
    f"working, e.g. `{SLASH_COMMAND} overview ada@example.com`.",
    Notice.LLM_BUDGET_TEAM: "This workspace has used today's assistant allowance; it resets at midnight UTC. Slash "
    f"commands keep working, e.g. `{SLASH_COMMAND} overview ada@example.com`.",
    Notice.NOT_YOUR_BUTTON: "That button belongs to someone else's request — run the command yourself to get your own.",
    Notice.EXPIRED: "That request has expired — run the command again.",
    Notice.ALREADY_DONE: "That was already handled — nothing more to do.",
    Notice.WRITE_IN_PROGRESS: "That change is already being written — if no confirmation shows up, check your CRM "
    "before asking again.",
    Notice.INVALID_INPUT: "That doesn't look right — check what you entered and try again.",
    Notice.NOT_FOUND: "I couldn't find that — check the name or email and try again.",
    Notice.INTERNAL: "Something went wrong on my side — try again, and tell your admin if it keeps happening.",
}


def user_message(code: Code, detail: str = "") -> str:
    """The sentence for a reason, with an optional detail after it.

    The result is raw text: escape it when putting it into mrkdwn (error_message does).
    """
    message = USER_MESSAGES[code]
    detail = clean(detail, single_line=True)
    return f"{message} ({detail})" if detail else message


def error_message(reason_text: str) -> list[Block]:
    return [section(f"⚠️ {escape_mrkdwn(reason_text)}")]


def help_message() -> list[Block]:
    command = SLASH_COMMAND
    usage = "\n".join(
        (
            f"`{command} overview <name or email>` — everything about a person in your CRM",
            f"`{command} note <person> <text>` — add a note to a person",
            f"`{command} task <person> <title> [due <date>]` — create a task, e.g. `due 2026-12-01` or `due friday`",
            f"`{command} person <name> <email>` — create a person",
            f"`{command} credentials` — your connected CRM accounts and which one is the default",
            f"`{command} follow <person>` — a morning digest (9:00 on working days) of what changes for them",
            f"`{command} following` — who you follow; `{command} unfollow <person>` to stop",
            f"`{command} digest` — what changed for them now; `{command} digest off` or `on` for the morning DM",
            f"`{command} connect` — connect a CRM",
            f"`{command} disconnect` — forget your stored token, default account, conversations, follows and reminders",
            f"`{command} help` — this message",
        )
    )
    return [
        section("*Rollout for Slack* — your CRM, from here."),
        section(escape_mrkdwn(usage)),
        context("Anything else → just ask in plain words, e.g. “who did I last talk to at Acme?”"),
    ]


def thinking_message() -> list[Block]:
    return [context("⏳ Thinking…")]


def stopped_early_note() -> list[Block]:
    return [context("I stopped before finishing — ask again, or be more specific, to continue.")]
