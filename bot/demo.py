"""`rollout-bot demo`: the product in a terminal, against a local sandbox CRM, on the embedded SQLite store.

The same parser, CrmService and Block Kit builders as Slack; only the last step (printing instead of posting) differs.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import sys
from datetime import date
from typing import Any, TextIO

from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot import blocks, commands
from bot.app import build_services
from bot.config import Settings
from bot.identity import SlackUser
from bot.logs import configure_logging
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Created,
    Credentials,
    Failure,
    Matches,
    NotFound,
    PersonOverview,
    Unrecognised,
)
from bot.sandbox import SandboxCrm, start_sandbox
from bot.services import Services

DEMO_USER = SlackUser("TDEMO", "UDEMO")
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
    async with start_sandbox(client_id=DEMO_CLIENT_ID, client_secret=client_secret, crm=crm) as sandbox:
        demo_settings = settings.model_copy(
            update={
                "rollout_mcp_url": sandbox.url,
                "rollout_client_id": DEMO_CLIENT_ID,
                "rollout_client_secret": SecretStr(client_secret),
                "encryption_key": settings.encryption_key or SecretStr(Fernet.generate_key().decode()),
                "anthropic_api_key": None,
            }
        )
        services = await build_services(demo_settings)
        try:
            out.write(WELCOME.format(sandbox=sandbox.base_url, database=demo_settings.database_url))
            interactive = stdin.isatty()
            while True:
                if interactive:
                    out.write(PROMPT)
                    out.flush()
                line = await asyncio.to_thread(stdin.readline)
                if not line:
                    break
                text = line.strip().removeprefix("/rollout").strip()
                if text in {"quit", "exit"}:
                    break
                if not interactive:
                    out.write(f"{PROMPT}{text}\n")
                out.write(await respond(services, DEMO_USER, text) + "\n\n")
                out.flush()
        finally:
            await services.close()


async def respond(services: Services, user: SlackUser, text: str) -> str:
    crm = services.crm
    if text.startswith("use "):
        return render(await crm.set_default_credential(user, text.removeprefix("use ").strip()))
    command = commands.parse(text, today=date.today())
    match command:
        case commands.Help(problem=problem):
            return (problem + "\n\n" if problem else "") + as_text(blocks.help_message())
        case commands.Overview(query=query):
            return render(await crm.overview(user, query))
        case commands.AddNote(person=person, text=body) if body:
            return render(await crm.note_about(user, person, body))
        case commands.CreateTask(person=person, title=title, due=due) if title:
            return render(await crm.task_for(user, person, title, due_date=due.isoformat() if due else None))
        case commands.CreatePerson(first_name=first, last_name=last, email=email) if email:
            return render(await crm.create_person(user, first_name=first, last_name=last or None, email=email))
        case commands.AddNote() | commands.CreateTask() | commands.CreatePerson():
            return "In Slack this opens a form to fill in the missing parts. Here, type the whole command."
        case commands.ListCredentials():
            return render(await crm.credentials(user))
        case commands.Connect():
            return render(await crm.connect_link(user))
        case commands.FreeText():
            return "Free-text questions go to the LLM agent in Slack (set ANTHROPIC_API_KEY and run `serve`)."
    return as_text(blocks.help_message())


def render(outcome: object) -> str:
    match outcome:
        case PersonOverview(person=person, credential=credential):
            return as_text(blocks.person_card(person, credential))
        case Matches(query=query, people=people):
            return as_text(blocks.match_picker(query, people, None)) + "\n(type: overview <email> to pick one)"
        case NotFound(query=query):
            return as_text(blocks.not_found_message(query))
        case Unrecognised(query=query, text=text):
            return as_text(blocks.unrecognised_card(query, text))
        case Created():
            return as_text(blocks.created_message(outcome))
        case Credentials(credentials=credentials, default_id=default_id):
            return as_text(blocks.credentials_list(credentials, default_id)) + "\n(type: use <credential id>)"
        case ChooseCredential(credentials=credentials):
            ids = ", ".join(c.id for c in credentials)
            return as_text(blocks.credential_picker(credentials, None)) + f"\n(type: use <one of {ids}>)"
        case ConnectNeeded(link=link):
            # This terminal is the user's own screen; in Slack the link goes only to their DM.
            return f"Connect or manage your CRM accounts here, then try again:\n  {link}"
        case Failure(reason=reason, detail=detail):
            return "⚠️ " + blocks.user_message(reason.value, detail)
    return str(outcome)


def as_text(block_list: list[Any]) -> str:
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
