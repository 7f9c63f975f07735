"""Which CRM account to use, the list of connected accounts, and the connect link (DM only)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.blocks.elements import actions, button, context, section
from bot.blocks.person import credential_line
from bot.blocks.text import BUTTON_URL, MESSAGE_BLOCKS, safe_url
from bot.blocks.values import encode_value
from bot.ids import SLASH_COMMAND, Action
from bot.rollout.outcomes import Credential, Disconnected

# Leaves room for the blocks around the list.
_LISTED_CREDENTIALS = MESSAGE_BLOCKS - 5


def _credential_row(credential: Credential, extra: str = "") -> str:
    return f"*{credential_line(credential)}*{extra}"


def credential_picker(credentials: Sequence[Credential], parked_request_id: str | None) -> list[Block]:
    """One row and one "Use this" button per account. Each button sits in its own section: action_ids must be
    unique within a block, and every button here shares Action.CREDENTIAL_CHOOSE."""
    blocks: list[Block] = [section("*Pick which CRM account to use*")]
    for credential in credentials[:_LISTED_CREDENTIALS]:
        value = encode_value(c=credential.id, r=parked_request_id)
        choose = button("Use this", Action.CREDENTIAL_CHOOSE, value=value) if value is not None else None
        blocks.append(section(_credential_row(credential), accessory=choose))
    if len(credentials) > _LISTED_CREDENTIALS:
        blocks.append(context(f"…and {len(credentials) - _LISTED_CREDENTIALS} more."))
    blocks.append(context(f"☑️ It becomes your default; change it with `{SLASH_COMMAND} credentials`."))
    return blocks


def credentials_list(credentials: Sequence[Credential], default_id: str | None) -> list[Block]:
    if not credentials:
        return [section(f"No CRM connected yet — `{SLASH_COMMAND} connect`")]
    blocks: list[Block] = [section("*Your CRM accounts*")]
    for credential in credentials[:_LISTED_CREDENTIALS]:
        if credential.id == default_id:
            blocks.append(section(_credential_row(credential, "  ✅ Default")))
            continue
        value = encode_value(c=credential.id)
        make_default = button("Make default", Action.CREDENTIAL_MAKE_DEFAULT, value=value) if value else None
        blocks.append(section(_credential_row(credential), accessory=make_default))
    if len(credentials) > _LISTED_CREDENTIALS:
        blocks.append(context(f"…and {len(credentials) - _LISTED_CREDENTIALS} more."))
    blocks.append(context(f"Connect another with `{SLASH_COMMAND} connect`."))
    return blocks


def connect_dm(link: str, parked_request_id: str | None, valid_minutes: int | None = None) -> list[Block]:
    """The credential-manager link as a button. The link embeds the user's token: it appears only as the button's
    url, never in a text, and never in an exception message."""
    url = safe_url(link, limit=BUTTON_URL)
    if url is None or url != link.strip():
        raise ValueError("connect link is not an http(s) URL within Slack's limit")
    blocks: list[Block] = [
        section(
            "*Connect your CRM to use Rollout from Slack.*\n"
            "The button opens Rollout's credential manager; the link is personal, so don't share it."
            + (f" It works for {valid_minutes} minutes." if valid_minutes else "")
        )
    ]
    buttons = [button("Connect your CRM", Action.CONNECT_OPEN, url=url, style="primary")]
    if parked_request_id is not None:
        retry = encode_value(r=parked_request_id)
        if retry is not None:
            buttons.append(button("Try again", Action.CONNECT_RETRY, value=retry))
    blocks += actions(buttons)
    if parked_request_id is not None:
        blocks.append(context("Once connected, press *Try again* and I'll finish what you asked."))
    return blocks


def check_dms_message() -> list[Block]:
    return [section("Connect a CRM first — I've sent you a link in a DM.")]


def disconnected_message(forgotten: Disconnected) -> list[Block]:
    """What `/rollout disconnect` forgot, exactly; the CRM connections at Rollout itself stay."""
    conversations, messages = forgotten.conversations, forgotten.messages
    plural = "s" if conversations != 1 else ""
    followed = forgotten.followed
    reminders = forgotten.reminders
    forgot = [
        *(["your stored Rollout token"] if forgotten.token else []),
        *(["your default CRM account"] if forgotten.default_account else []),
        *([f"{conversations} conversation{plural} with the assistant ({messages} messages)"] if conversations else []),
        *([f"the {followed} {'person' if followed == 1 else 'people'} you followed"] if followed else []),
        *([f"{reminders} task reminder{'s' if reminders != 1 else ''}"] if reminders else []),
    ]
    if not forgot:
        return [section("There was nothing stored for you — nothing to forget.")]
    listed = ", ".join(forgot[:-1]) + (" and " if len(forgot) > 1 else "") + forgot[-1]
    return [
        section(f"Done — I forgot {listed}."),
        context(
            f"Your CRM accounts stay connected at Rollout; manage them with `{SLASH_COMMAND} connect`. "
            "The next command starts fresh."
        ),
    ]
