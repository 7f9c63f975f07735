"""`rollout-bot demo`: the product in a terminal, against a local sandbox CRM, on the embedded SQLite store.

The same parser, CrmService and Block Kit builders as Slack; only the last step (printing instead of posting) differs.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

from cryptography.fernet import Fernet
from pydantic import SecretStr
from slack_sdk.models.blocks import Block

from bot import blocks, commands
from bot.agent.results import Decided, TurnResult
from bot.app import build_services
from bot.blocks.approvals import STATUS_LINES
from bot.blocks.messages import Notice
from bot.blocks.outcomes import outcome_message
from bot.commands import CrmCommand
from bot.config import Settings
from bot.identity import SlackUser
from bot.logs import configure_logging
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Credentials,
    Failure,
    Matches,
    Outcome,
)
from bot.runner import Form, run
from bot.sandbox import SandboxCrm, start_sandbox
from bot.services import Services
from bot.store import ConversationKey

DEMO_USER = SlackUser("TDEMO", "UDEMO")
DEMO_CONVERSATION = ConversationKey("TDEMO", "DDEMO", "terminal")
DEMO_CLIENT_ID = "rollout-bot-demo"
PROMPT = "/rollout "
WELCOME = """Rollout bot demo — a sandbox CRM runs on {sandbox} and your data is stored in {database}.
Try:  overview ada   ·   overview ada.lovelace@analytical.example   ·   note "Ada Lovelace" Called about renewal
      task "Ada Lovelace" Send the proposal due friday   ·   person Grace Hopper grace@navy.example
      credentials   ·   connect   ·   use <credential id>   ·   help   ·   quit
"""


async def run_demo(
    settings: Settings, *, accounts: int = 1, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> None:
    configure_logging("WARNING")
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    client_secret = secrets.token_urlsafe(64)  # a fresh sandbox per run: stored tokens from older runs get renewed
    crm = SandboxCrm(accounts_per_new_subject=accounts)
    interactive = stdin.isatty()

    async def read_line() -> str | None:
        line = await asyncio.to_thread(stdin.readline)
        return line if line else None

    async def confirm(question: str) -> bool:
        out.write(f"{question} [y/N] ")
        out.flush()
        answer = await read_line()
        if not interactive:
            out.write(f"{(answer or '').strip()}\n")
        return (answer or "").strip().lower() in {"y", "yes"}

    async with start_sandbox(client_id=DEMO_CLIENT_ID, client_secret=client_secret, crm=crm) as sandbox:
        demo_settings = settings.model_copy(
            update={
                "rollout_mcp_url": sandbox.url,
                "rollout_client_id": DEMO_CLIENT_ID,
                "rollout_client_secret": SecretStr(client_secret),
                "encryption_key": settings.encryption_key or SecretStr(Fernet.generate_key().decode()),
            }
        )
        services = await build_services(demo_settings)
        try:
            out.write(WELCOME.format(sandbox=sandbox.base_url, database=demo_settings.database_url))
            while True:
                if interactive:
                    out.write(PROMPT)
                    out.flush()
                line = await read_line()
                if line is None:
                    break
                text = line.strip().removeprefix("/rollout").strip()
                if text in {"quit", "exit"}:
                    break
                if not interactive:
                    out.write(f"{PROMPT}{text}\n")
                out.write(await respond(services, DEMO_USER, text, confirm=confirm) + "\n\n")
                out.flush()
        finally:
            await services.close()


async def respond(services: Services, user: SlackUser, text: str, *, confirm: Confirm | None = None) -> str:
    """What the terminal shows for one line: the same runner as Slack, with text in place of Block Kit."""
    if text.startswith("use "):
        return render(await services.crm.set_default_credential(user, text.removeprefix("use ").strip()))
    surface = TextSurface(services, user, confirm or _never)
    await run(commands.parse(text, today=date.today()), services.crm, surface)
    return "\n".join(surface.lines)


Confirm = Callable[[str], Awaitable[bool]]


async def _never(_: str) -> bool:
    return False


@dataclass
class TextSurface:
    """The runner's surface in a terminal: outcomes as text, no forms, approvals as a y/n question."""

    services: Services
    user: SlackUser
    confirm: Confirm
    lines: list[str] = field(default_factory=list)

    async def show(
        self, outcome: Outcome, *, waiting: CrmCommand | None = None, credential_id: str | None = None
    ) -> None:
        self.lines.append(render(outcome))

    async def ask(self, form: Form) -> bool:
        return False  # no forms here: the runner says what to type instead

    async def help(self, problem: str | None) -> None:
        self.lines.append((problem + "\n\n" if problem else "") + as_text(blocks.help_message()))

    async def free_text(self, text: str) -> None:
        agent = self.services.agent
        if agent is None:
            self.lines.append("Free-text questions go to the LLM agent: set ANTHROPIC_API_KEY to try it here.")
            return
        turn = await agent.answer(self.user, DEMO_CONVERSATION, text)
        while True:
            self._turn(turn)
            if turn.approval is None:
                return
            record, description = turn.approval.record, turn.approval.description
            approve = await self.confirm(f"Approve: {description.summary}?")
            decided = await agent.approvals.decide(record.id, self.user, approve=approve)
            self.lines.append(_decision(decided))
            if decided.problem is not None:
                self.lines.append(render(decided.problem))
            follow_up = await agent.continue_after(decided)
            if follow_up is None:
                return
            turn = follow_up

    def _turn(self, turn: TurnResult) -> None:
        for overview in turn.people:
            self.lines.append(render(overview))
        if turn.problem is not None:
            self.lines.append(render(turn.problem))
        if turn.error:
            self.lines.append("⚠️ " + blocks.user_message(Notice(turn.error)))
        if turn.text:
            self.lines.append(turn.text)


def _decision(decided: Decided) -> str:
    """An approval's end, as the card in Slack would say it."""
    status = decided.status if decided.status in STATUS_LINES else decided.record.status if decided.record else ""
    line = STATUS_LINES.get(status) or blocks.user_message(_REFUSALS.get(decided.status, Notice.ALREADY_DONE))
    return f"{line}\n{decided.result_text}" if decided.result_text else line


_REFUSALS = {"missing": Notice.EXPIRED, "not_yours": Notice.NOT_YOUR_BUTTON, "in_progress": Notice.WRITE_IN_PROGRESS}


def render(outcome: Outcome) -> str:
    """An outcome as the terminal shows it: the same message as in Slack, as text, with what to type to pick."""
    match outcome:
        case ConnectNeeded(link=link):
            # This terminal is the user's own screen; in Slack the link goes only to their DM.
            return f"Connect or manage your CRM accounts here, then try again:\n  {link}"
        case Failure(reason=reason, detail=detail):
            return "⚠️ " + blocks.user_message(reason, detail)
    shown = as_text(outcome_message(outcome).blocks)
    match outcome:
        case Matches():
            return shown + "\n(type: overview <email> to pick one)"
        case Credentials():
            return shown + "\n(type: use <credential id>)"
        case ChooseCredential(credentials=credentials):
            return shown + f"\n(type: use <one of {', '.join(c.id for c in credentials)}>)"
    return shown


def as_text(block_list: Sequence[Block]) -> str:
    """A plain rendering of Block Kit for a terminal: headers, text, fields, context and buttons."""
    lines: list[str] = []
    for block in blocks.to_dicts(block_list):
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {block['text']['text']} ==")
        elif kind == "section":
            if "text" in block:
                lines.append(_plain(block["text"]["text"]))
            lines.extend("  " + _plain(f["text"]).replace("\n", " ") for f in block.get("fields", []))
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                lines.append(f"  [{accessory['text']['text']}]")
        elif kind == "context":
            lines.append("  " + " · ".join(_plain(e.get("text", "")) for e in block.get("elements", [])))
        elif kind == "actions":
            lines.append("  " + "  ".join(f"[{e['text']['text']}]" for e in block["elements"] if "text" in e))
        elif kind == "divider":
            lines.append("  ---")
    return "\n".join(lines)


_DATE_TOKEN = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(?:mailto:)?([^|>]+)\|([^>]*)>")


def _plain(mrkdwn: str) -> str:
    """Slack markup as a terminal shows it: dates by their fallback, links as their text."""
    text = _DATE_TOKEN.sub(r"\1", mrkdwn)
    text = _LINK.sub(lambda m: m.group(2) if m.group(2) in m.group(1) else f"{m.group(2)} ({m.group(1)})", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
