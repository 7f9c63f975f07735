"""`rollout-bot demo`: the product in a terminal, against a local sandbox CRM, on the embedded SQLite store.

The same parser, runner, CrmService and Block Kit builders as Slack; only the last step differs: outcomes are printed
as terminal text, and where Slack would open a form or offer a button the demo prints the exact command to type.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import re
import secrets
import shlex
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TextIO

from cryptography.fernet import Fernet
from pydantic import SecretStr
from slack_sdk.models.blocks import Block

from bot import blocks, commands
from bot.agent.results import Decided, TurnResult
from bot.agent.writes import WriteDescription, person_of
from bot.app import build_services
from bot.blocks.approvals import STATUS_LINES
from bot.blocks.messages import Notice
from bot.blocks.outcomes import outcome_message
from bot.blocks.person import credential_line
from bot.blocks.text import is_plausible_email
from bot.blocks.values import decode_value
from bot.commands import AddNote, CreateTask, CrmCommand, Follow, FreeText, Overview, PersonRef
from bot.config import ConfigError, Settings
from bot.identity import SlackUser
from bot.ids import Action
from bot.logs import configure_logging
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Credential,
    Credentials,
    Digest,
    DigestSwitched,
    Failure,
    Followed,
    FollowedPerson,
    Following,
    FollowLimit,
    Matches,
    NotFollowing,
    NotFound,
    Outcome,
    PersonOverview,
    PersonSummary,
    Unfollowed,
)
from bot.runner import Form, NoteForm, PersonForm, TaskForm, run
from bot.sandbox import SandboxCrm, start_sandbox
from bot.sandbox.crm import CrmError, CrmPerson
from bot.sandbox.seed import SEED_PEOPLE
from bot.services import Services
from bot.store import ConversationKey

DEMO_USER = SlackUser("TDEMO", "UDEMO")
DEMO_CONVERSATION = ConversationKey("TDEMO", "DDEMO", "terminal")
DEMO_CLIENT_ID = "rollout-bot-demo"
PROMPT = "/rollout "
_ADA = SEED_PEOPLE[0]
# Slack's examples name an `ada@example.com` the sandbox does not have; the demo's name its Ada, so they work.
_SLACK_EXAMPLE_EMAIL = "ada@example.com"
SUGGESTIONS = (
    ("overview ada", f"overview {_ADA.email}", 'note "Ada Lovelace" Called about renewal'),
    # `person` names someone the sandbox does not have yet, so trying it adds a person rather than a twin.
    ('task "Ada Lovelace" Send the proposal due friday', "person Mary Jackson mary.jackson@langley.example"),
    # Follow, change as a colleague would, then the digest: what changed shows without waiting for a morning.
    ('follow "Ada Lovelace"', 'change "Ada Lovelace" title=CEO', "digest", "following"),
    ("credentials", "use 1", "connect", "help", "quit"),
)
_SEP = "   ·   "
WELCOME = (
    "Rollout bot demo — a sandbox CRM (Ada Lovelace, Ada Byron, Grace Hopper and more) runs on {sandbox};\n"
    "your data is stored in {database}. Ctrl-C or quit leaves.\n"
    + "Try:  "
    + ("\n      ".join(_SEP.join(row) for row in SUGGESTIONS))
    + "\n"
)
CHANGE_USAGE = (
    "Usage: change <person> title=… | company=… | owner=… | stage=… | note <text> | complete [task] | remove"
    ' — e.g. change "Ada Lovelace" stage=Customer'
)
_DEMO_HELP = (
    "In this demo, use <number> picks a CRM account from credentials, and Ctrl-C or quit leaves.\n"
    "follow <person>, following, unfollow <person>, digest and digest on|off keep you posted on people; change <person>"
    " … edits the sandbox CRM as a colleague would, so digest has news.\n"
    f"Try:  {_SEP.join(SUGGESTIONS[0])}\n      {_SEP.join(SUGGESTIONS[1])}\n      {_SEP.join(SUGGESTIONS[2])}"
)
# Typed words only the demo knows, for its did-you-mean.
_DEMO_WORDS = ("change",)
GOODBYE = "Bye."

Confirm = Callable[[str], Awaitable[bool]]
Write = Callable[[str], None]


async def run_demo(
    settings: Settings, *, accounts: int = 1, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> None:
    configure_logging("WARNING")
    out = stdout or sys.stdout
    lines = _Lines(stdin or sys.stdin)
    interactive = lines.interactive
    client_secret = secrets.token_urlsafe(64)  # a fresh sandbox per run: stored tokens from older runs get renewed
    crm = SandboxCrm(accounts_per_new_subject=accounts)
    encryption_key = settings.encryption_key or SecretStr(demo_key(settings.database_url))

    def write(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    async def confirm(question: str) -> bool:
        out.write(f"{question} [y/N] ")
        out.flush()
        answer = await lines.next()
        if not interactive:
            out.write(f"{(answer or '').strip()}\n")
        return (answer or "").strip().lower() in {"y", "yes"}

    async with start_sandbox(client_id=DEMO_CLIENT_ID, client_secret=client_secret, crm=crm) as sandbox:
        demo_settings = settings.model_copy(
            update={
                "rollout_mcp_url": sandbox.url,
                "rollout_client_id": DEMO_CLIENT_ID,
                "rollout_client_secret": SecretStr(client_secret),
                "encryption_key": encryption_key,
            }
        )
        services = await build_services(demo_settings)
        session = Session(services, DEMO_USER, confirm, write, sandbox=crm)

        async def loop() -> None:
            database = _sqlite_path(settings.database_url)
            stored = str(database or settings.database_url)
            if database and settings.encryption_key is None:  # else the key is the user's ENCRYPTION_KEY
                stored += f" (its key in {database}.key)"
            write(WELCOME.format(sandbox=sandbox.base_url, database=stored))
            while True:
                if interactive:
                    out.write(PROMPT)
                    out.flush()
                line = await lines.next()
                if line is None:
                    write(f"\n{GOODBYE}" if interactive else GOODBYE)  # off the prompt's line after Ctrl-D
                    return
                text = line.strip().removeprefix("/rollout").strip()
                if text in {"quit", "exit"}:
                    if not interactive:
                        out.write(f"{PROMPT}{text}\n")
                    write(GOODBYE)
                    return
                if not interactive:
                    out.write(f"{PROMPT}{text}\n")
                await session.handle(text)
                write("")

        try:
            await _until_interrupted(loop(), out)
        finally:
            await services.close()


async def _until_interrupted(work: Awaitable[None], out: TextIO) -> None:
    """Run the session; Ctrl-C ends it at once with a goodbye, the way `quit` does (exit code 0)."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        await task
        return
    try:
        await task
    except asyncio.CancelledError:
        if not interrupted:
            raise
        out.write(f"\n{GOODBYE}\n")
        out.flush()
    finally:
        loop.remove_signal_handler(signal.SIGINT)


class _Lines:
    """stdin, line by line, read in a daemon thread: a blocked read must not keep the process alive after Ctrl-C
    (asyncio.to_thread's pool thread would be waited for at exit)."""

    def __init__(self, stdin: TextIO) -> None:
        self.interactive = stdin.isatty()
        self._stdin = stdin
        self._queue: asyncio.Queue[str | None] | None = None

    async def next(self) -> str | None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            loop, queue = asyncio.get_running_loop(), self._queue

            def read() -> None:
                while True:
                    line = self._stdin.readline()
                    try:
                        loop.call_soon_threadsafe(queue.put_nowait, line or None)
                    except RuntimeError:  # the demo has ended and its loop is closed: nobody reads on
                        return
                    if not line:
                        return

            threading.Thread(target=read, name="demo-stdin", daemon=True).start()
        return await self._queue.get()


def demo_key(database_url: str) -> str:
    """The demo's encryption key, kept beside its SQLite file (created once, readable by this user only), so a second
    run in the same folder can read the tokens the first one stored. Any other database gets a key for this run."""
    path = _sqlite_path(database_url)
    if path is None:
        return Fernet.generate_key().decode()
    key_file = path.with_name(path.name + ".key")
    try:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = key_file.read_text().strip()
        try:
            Fernet(key)
        except ValueError:  # e.g. a run stopped between creating the file and writing it
            raise ConfigError(f"{key_file} is not an encryption key: delete it and {path} to start afresh") from None
        return key
    key = Fernet.generate_key().decode()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def _sqlite_path(database_url: str) -> Path | None:
    match = re.match(r"sqlite(?:\+\w+)?:///([^?]+)", database_url)
    if match is None or match.group(1) in {":memory:", ""}:
        return None
    return Path(match.group(1))


# ---- one line typed -------------------------------------------------------------------------------------------------


@dataclass
class Session:
    """The demo's state between lines: the request waiting for a CRM account, as Slack parks it."""

    services: Services
    user: SlackUser
    confirm: Confirm
    write: Write
    today: Callable[[], date] = date.today
    waiting: CrmCommand | None = None
    sandbox: SandboxCrm | None = None  # the CRM itself, for `change`: edits no Rollout tool makes

    async def handle(self, text: str) -> None:
        verb, _, rest = text.partition(" ")
        if verb.lower() == "use":
            await self._use(rest.strip())
            return
        if verb.lower() == "change" and self.sandbox is not None:
            self.write(await self._change(self.sandbox, rest.strip()))
            return
        self.waiting = None  # a new request: an older one no longer waits for a pick
        command = commands.parse(text, today=self.today())
        if isinstance(command, FreeText) and (guess := did_you_mean(text)):
            self.write(f"Did you mean: {guess}")
            return
        if isinstance(command, CreateTask) and not await self._due_is_fine(command):
            return
        await self.run(command)

    async def run(self, command: commands.Command) -> None:
        await run(command, self.services.crm, TextSurface(self), self.services.follows)

    async def _due_is_fine(self, command: CreateTask) -> bool:
        if command.due_text and (day := _date_with_time(command.due_text, self.today())):
            who = command.person if is_plausible_email(command.person) else f'"{command.person}"'
            self.write(f"Tasks have a due date but no time. Type: task {who} {command.title} due {day.isoformat()}")
            return False
        past = command.due is not None and command.due < self.today()
        if past and not await self.confirm(f"{command.due} is in the past — create the task anyway?"):
            self.write("Nothing created.")
            return False
        return True

    async def _use(self, choice: str) -> None:
        listed = await self.services.crm.credentials(self.user)
        if not isinstance(listed, Credentials):
            self.write(render(listed))
            return
        accounts = listed.credentials
        if not choice:
            self.write(f"Say which account, e.g. use 1:\n{_numbered(accounts, listed.default_id)}")
            return
        picked = next((c for i, c in enumerate(accounts, 1) if choice in (str(i), c.id)), None)
        if picked is None:
            self.write(f"There is no account {choice}. Type one of:\n{_numbered(accounts, listed.default_id)}")
            return
        self.write(render(await self.services.crm.set_default_credential(self.user, picked.id)))
        waiting, self.waiting = self.waiting, None
        if waiting is not None:  # as in Slack, the request that asked for an account runs now
            await self.run(waiting)

    # ---- change: someone else edits the CRM ---------------------------------------------------------------------

    async def _change(self, sandbox: SandboxCrm, text: str) -> str:
        """Edit the sandbox CRM directly, as a colleague would in the CRM, so the digest has something to report.
        One line back: what changed, who to type instead when several match, or the usage."""
        who, what = _split_change(text)
        if not who or not what:
            return CHANGE_USAGE
        subject = self.user.default_subject
        account = await self._account(sandbox, subject)
        if account is None:
            return "No CRM account is connected: type connect first."
        if is_plausible_email(who):
            people = sandbox.find_people(subject, account, email=who)
        else:
            people = sandbox.find_people(subject, account, query=who)
        people = [p for p in people if p.name.casefold() == who.casefold()] or people
        if len(people) > 1:  # the one followed is the one whose news the user is after
            followed = {p.person_id for p in (await self.services.follows.following(self.user)).people}
            people = [p for p in people if p.id in followed] or people
        if not people:
            return f"No one in the sandbox CRM matches ‘{who}’. {CHANGE_USAGE}"
        if len(people) > 1:
            typed = "   ·   ".join(f"change {_who(_summary(p))} {what}" for p in people)
            return f"Several people match ‘{who}’ — type one of:  {typed}"
        person = people[0]
        try:
            done = _apply_change(sandbox, subject, account, person, what)
        except _Unchanged as nothing:
            return str(nothing)
        except CrmError as error:
            return f"{error} {CHANGE_USAGE}"
        return f"{done} (as a colleague would in the CRM — try digest)" if done else CHANGE_USAGE

    async def _account(self, sandbox: SandboxCrm, subject: str) -> str | None:
        """The user's default CRM account, else their first: where the bot's own commands look."""
        listed = await self.services.crm.credentials(self.user)
        ids = [account.id for account in sandbox.accounts(subject)]
        if isinstance(listed, Credentials) and listed.default_id in ids:
            return listed.default_id
        return ids[0] if ids else None


_CHANGE_VERBS = {"note", "complete", "remove"}
_FIELDS = ("title", "company", "owner", "stage")


def _split_change(text: str) -> tuple[str, str]:
    """`"Ada Lovelace" title=CEO` or `Ada Lovelace title=CEO` as the person and what to change: the person ends at a
    closing quote, or before the first `field=` or change word."""
    if text.startswith('"') and '"' in text[1:]:
        who, _, what = text[1:].partition('"')
        return who.strip(), what.strip()
    words = text.split()
    end = next((i for i, w in enumerate(words) if i and ("=" in w or w.lower() in _CHANGE_VERBS)), len(words))
    return " ".join(words[:end]), " ".join(words[end:])


class _Unchanged(Exception):
    """A change that could not be made, in words that need no usage line after them."""


def _apply_change(sandbox: SandboxCrm, subject: str, account: str, person: CrmPerson, what: str) -> str | None:
    """Apply one change; what it did as a sentence, or None when `what` is not a change this understands."""
    verb, _, rest = what.partition(" ")
    rest = rest.strip()
    match verb.lower():
        case "note":
            if not rest:
                return None
            sandbox.create_note(subject, account, person_id=person.id, content=rest)
            return f"Added a note to {person.name}: “{rest}”"
        case "complete":
            open_tasks = [t for t in sandbox.tasks_of(subject, account, person.id) if t.status != "completed"]
            task = next((t for t in open_tasks if rest.casefold() in t.title.casefold()), None)
            if task is None:
                raise _Unchanged(f"{person.name} has no open task" + (f" matching ‘{rest}’." if rest else "."))
            sandbox.complete_task(subject, account, task.id)
            return f"Completed {person.name}’s task “{task.title}”"
        case "remove" if not rest:
            sandbox.remove_person(subject, account, person.id)
            return f"Removed {person.name} from the CRM"
    fields = _field_changes(what)
    if not fields:
        return None
    before = {name: getattr(person, name) for name in fields}
    sandbox.update_person(subject, account, person.id, **fields)
    said = ", ".join(f"{name} from “{before[name] or 'none'}” to “{value or 'none'}”" for name, value in fields.items())
    return f"Changed {person.name}’s {said}"


def _field_changes(what: str) -> dict[str, str]:
    """`title=Head of Sales company="Analytical Engines"` as {field: value}; {} when any part is not one of the
    fields. A word without `=` belongs to the value before it, so values need no quotes."""
    try:
        words = shlex.split(what)
    except ValueError:  # an unclosed quote: read the words as typed
        words = what.split()
    fields: dict[str, str] = {}
    last: str | None = None
    for word in words:
        name, equals, value = word.partition("=")
        if equals and name.lower() in _FIELDS:
            last = name.lower()
            fields[last] = value
        elif last is not None and not equals:
            fields[last] = f"{fields[last]} {word}"
        else:
            return {}
    return fields


def _summary(person: CrmPerson) -> PersonSummary:
    return PersonSummary(person.id, person.name, person.email)


def did_you_mean(text: str) -> str | None:
    """The line with its first word corrected, when that word is a near miss for a command ("overveiw ada").

    A typo here keeps the command's first letter and is not the command grown by a suffix: "how …", "notes for …" and
    "who's …" are questions, not misspelt `show`, `note` and `who`."""
    verb, _, rest = text.partition(" ")
    word = verb.lower()
    if not word.isalpha():
        return None
    near = difflib.get_close_matches(word, (*commands.SUBCOMMANDS, *_DEMO_WORDS), n=3, cutoff=0.75)
    close = [c for c in near if c[0] == word[0] and not word.startswith(c)]
    return f"{close[0]} {rest}".strip() if close else None


_TIME = re.compile(r"^(?P<day>.+?)\s+(?:at\s+)?\d{1,2}(?::\d{2})?\s*(?:am|pm)?$", re.IGNORECASE)


def _date_with_time(due_text: str, today: date) -> date | None:
    """The date of "2026-12-24 10:30" or "friday at 3pm": a date the parser read but for the time after it."""
    match = _TIME.match(due_text.strip())
    return commands.parse_due(match.group("day"), today) if match else None


def _who(person: PersonRef | PersonSummary | FollowedPerson) -> str:
    """How to name a person in a command so that it finds them alone: their email, or their quoted name."""
    return person.email if person.email and is_plausible_email(person.email) else f'"{person.name}"'


def _numbered(accounts: Sequence[Credential], default_id: str | None) -> str:
    return "\n".join(
        f"  {i}. {_plain(credential_line(c))}" + ("  ✅ default" if c.id == default_id else "") + f"   (id {c.id})"
        for i, c in enumerate(accounts, 1)
    )


@dataclass
class TextSurface:
    """The runner's surface in a terminal: outcomes as text, forms as the command to type, approvals as y/N."""

    session: Session

    @property
    def user(self) -> SlackUser:
        return self.session.user

    async def show(
        self, outcome: Outcome, *, waiting: CrmCommand | None = None, credential_id: str | None = None
    ) -> None:
        if isinstance(outcome, ChooseCredential):
            self.session.waiting = waiting
        following = None
        if isinstance(outcome, PersonOverview):  # the card offers Follow or Unfollow, as in Slack
            account = outcome.credential.id if outcome.credential else None
            person = PersonRef(outcome.person.id, credential_id=account)
            following = await self.session.services.follows.is_following(self.user, person)
        self.session.write(render(outcome, waiting, following=following))

    async def ask(self, form: Form) -> bool:
        """What the form would ask, as a command to type with the user's words in it. Without a person, False: the
        runner then shows the matches, each as its own command."""
        match form:
            case NoteForm(target=PersonRef() as target):
                self.session.write(f"Write the note after the person. Type: note {_who(target)} <your note>")
            case TaskForm(target=PersonRef() as target, title=title, error=error):
                said = (error or "Give the task a title after the person.").removesuffix(" — pick one below.")
                said = said + "." if error and not said.endswith(".") else said
                self.session.write(f"{said} Type: task {_who(target)} {title or '<title>'} due <date>")
            case PersonForm(first_name=first, last_name=last, email=email, error=error):
                typed = " ".join(
                    (first or "<first name>", last or "<last name>", email if is_plausible_email(email) else "<email>")
                )
                self.session.write(f"{error + ' ' if error else ''}Type: person {typed}")
            case _:
                return False
        return True

    async def help(self, problem: str | None) -> None:
        # The usage lines ("overview <name or email> — …") as a bulleted list.
        text = "\n".join(
            f"  • {line}" if line.partition(" ")[0] in commands.SUBCOMMANDS else line
            for line in as_text(blocks.help_message()).splitlines()
        )
        said = _plain(_examples(problem)) + "\n\n" if problem else ""
        self.session.write(said + text + "\n" + _DEMO_HELP)

    async def free_text(self, text: str) -> None:
        agent = self.session.services.agent
        if agent is None:
            self.session.write("Free-text questions go to the LLM agent: set ANTHROPIC_API_KEY to try it here.")
            return
        turn = await agent.answer(self.user, DEMO_CONVERSATION, text, self)
        while True:
            self._turn(turn)
            if turn.approval is None:
                return
            question = await self._question(turn.approval.record.arguments, turn.approval.description)
            approve = await self.session.confirm(question)
            decided = await agent.approvals.decide(turn.approval.record.id, self.user, approve=approve)
            self.session.write(_decision(decided))
            if decided.problem is not None:
                self.session.write(render(decided.problem))
            follow_up = await agent.continue_after(decided, self)
            if follow_up is None:
                return
            turn = follow_up

    # ---- the agent's Progress: each tool round is a step line -----------------------------------------------------

    async def status(self, text: str) -> None:
        for line in text.splitlines():
            self.session.write(f"· {line}")

    async def partial(self, text: str) -> None:
        return None  # the answer is printed whole once the turn ends

    async def _question(self, arguments: Mapping[str, object], description: WriteDescription) -> str:
        """The y/N question: who the write is for by name, email and CRM account (never by id alone), then what will
        be written, as the rows of Slack's approval card."""
        summary = description.summary
        rows = "".join(f"  {label}: {value}\n" for label, value in description.details if label != "Person")
        named = person_of(arguments)
        if named is None:
            return f"Approve: {summary}?\n{rows} "
        person_id = named[1]
        account = arguments.get("credentialId")
        found = await self.session.services.crm.person(
            self.user, person_id, credential_id=account if isinstance(account, str) else None
        )
        if not isinstance(found, PersonOverview):
            return f"Approve: {summary}?\n  Person: {person_id} (not found in your CRM)\n{rows} "
        person = found.person
        summary = summary.replace(person_id, person.name)
        where = f" · CRM account: {_plain(credential_line(found.credential))}" if found.credential else ""
        return f"Approve: {summary}?\n  Person: {person.name} <{person.email or 'no email'}>{where}\n{rows} "

    def _turn(self, turn: TurnResult) -> None:
        for overview in turn.people:
            self.session.write(render(overview))
        match turn.problem:  # as in Slack, the agent's question is not parked: the user asks it again
            case ChooseCredential(credentials=accounts):
                choices = f"use 1 … use {len(accounts)}" if len(accounts) > 1 else "use 1"
                self.session.write(
                    f"I need to know which CRM account to use first — type {choices}, then ask me again."
                )
                self.session.write(_numbered(accounts, None))
            case ConnectNeeded(link=link):
                self.session.write(f"Connect a CRM first at this link, then ask me again:\n  {link}")
            case None:
                pass
            case problem:
                self.session.write(render(problem))
        if turn.error:
            self.session.write("⚠️ " + blocks.user_message(Notice(turn.error)))
        if turn.text:
            self.session.write(markdown_text(turn.text))


def _decision(decided: Decided) -> str:
    """An approval's end, as the card in Slack would say it."""
    status = decided.status if decided.status in STATUS_LINES else decided.record.status if decided.record else ""
    line = STATUS_LINES.get(status) or blocks.user_message(_REFUSALS.get(decided.status, Notice.ALREADY_DONE))
    return f"{line}\n{decided.result_text}" if decided.result_text else line


_REFUSALS = {"missing": Notice.EXPIRED, "not_yours": Notice.NOT_YOUR_BUTTON, "in_progress": Notice.WRITE_IN_PROGRESS}


# ---- rendering ------------------------------------------------------------------------------------------------------


def render(outcome: Outcome, waiting: CrmCommand | None = None, *, following: bool | None = None) -> str:
    """An outcome as the terminal shows it: Slack's message as text, with a command to type for each choice.
    waiting: the request a pick would complete, so its choices keep what the user typed; following: on a card, whether
    the user follows the person (None: no Follow or Unfollow to offer)."""
    match outcome:
        case ConnectNeeded(link=link):
            # This terminal is the user's own screen; in Slack the link goes only to their DM.
            return f"Connect or manage your CRM accounts here, then try again:\n  {link}"
        case Failure(reason=reason, detail=detail):
            return "⚠️ " + _plain(_examples(blocks.user_message(reason, detail)))
        case Matches(query=query, people=people):
            choices = "\n".join(f"  {_pick(p, waiting)}   ({_described(p)})" for p in people)
            return f"Several people match ‘{query}’ — which one? Type one of:\n{choices}"
        case Credentials(credentials=accounts, default_id=default_id):
            listed = _numbered(accounts, default_id)
            others = [i for i, c in enumerate(accounts, 1) if c.id != default_id]
            pick = f"Type use {others[0]} to make it your default; " if len(others) == 1 else ""
            pick = f"Type use {others[0]} … use {others[-1]} to make one your default; " if len(others) > 1 else pick
            return f"Your CRM accounts:\n{listed}\n{pick}connect adds another."
        case ChooseCredential(credentials=accounts):
            listed = _numbered(accounts, None)
            return (
                f"Which CRM account should I use? Type use 1 … use {len(accounts)} (it becomes your default):\n{listed}"
            )
        case PersonOverview(person=person):
            who = _who(PersonRef(person.id, person.name, person.email))
            hints: dict[str, str] = {  # Action is a StrEnum: its members are the action_id strings
                Action.PERSON_ADD_NOTE: f"Type: note {who} <your note>",
                Action.PERSON_CREATE_TASK: f"Type: task {who} <title> due <date>",
                Action.PERSON_OPEN_IN_CRM: f"Open in CRM: {person.url}",
                Action.PERSON_FOLLOW: f"Type: follow {who}",
                Action.PERSON_UNFOLLOW: f"Type: unfollow {person.email or person.name}",
            }
            return as_text(outcome_message(outcome, following=following).blocks, hints)
        case NotFound(query=query):
            typed = f"<first name> <last name> {query}" if is_plausible_email(query) else f"{query} <email>"
            if not is_plausible_email(query) and len(query.split()) == 1:
                typed = "<first name> <last name> <email>"
            return as_text(outcome_message(outcome).blocks, {Action.PERSON_CREATE: f"Type: person {typed}"})
        case Followed() | Unfollowed() | NotFollowing() | Following() | FollowLimit() | DigestSwitched() | Digest():
            return _following_text(outcome)
    return as_text(outcome_message(outcome).blocks)


FollowOutcome = Followed | Unfollowed | NotFollowing | Following | FollowLimit | DigestSwitched | Digest


def _following_text(outcome: FollowOutcome) -> str:
    """Following, the list and the digest as text: each button is the command to type for that person or switch.

    Names print without their CRM link: in a digest or a list, a URL on every line buries the news; `overview`
    shows the card, whose Open in CRM line has it."""
    bare = _unlinked(outcome)
    people = _people_in(bare)
    by_id = {person.person_id: person for person in people}

    def hint(action_id: str, value: str) -> str | None:
        if action_id == Action.DIGEST_SWITCH:
            return f"Type: digest {value}"  # the button's value is the state it switches to, "on" or "off"
        person = by_id.get(decode_value(value).get("p", ""))
        if person is None:
            return None
        if action_id == Action.PERSON_UNFOLLOW:
            return f"Type: unfollow {_unfollow_query(person, people)}"
        if action_id == Action.PERSON_PICK:
            return f"Type: overview {_who(person)}"
        return None

    return _examples(as_text(outcome_message(bare).blocks, hint=hint))


def _unlinked(outcome: FollowOutcome) -> FollowOutcome:
    def bare(person: FollowedPerson) -> FollowedPerson:
        return replace(person, url=None)

    match outcome:
        case Followed(person=person) | Unfollowed(person=person):
            return replace(outcome, person=bare(person))
        case Following(people=people):
            return replace(outcome, people=tuple(bare(p) for p in people))
        case Digest(news=news, due=due, gone=gone):
            return replace(
                outcome,
                news=tuple(replace(item, person=bare(item.person)) for item in news),
                due=tuple(replace(item, person=bare(item.person)) for item in due),
                gone=tuple(replace(item, person=bare(item.person)) for item in gone),
            )
    return outcome


def _people_in(outcome: FollowOutcome) -> list[FollowedPerson]:
    match outcome:
        case Followed(person=person) | Unfollowed(person=person):
            return [person]
        case Following(people=people):
            return list(people)
        case Digest(news=news, due=due, gone=gone):
            return [item.person for item in news] + [item.person for item in due] + [item.person for item in gone]
    return []


def _unfollow_query(person: FollowedPerson, listed: Sequence[FollowedPerson]) -> str:
    """What to type after `unfollow` for this person: their name, which matches by substring, unless it would also
    match someone else listed; then their email, which matches exactly."""
    name = person.name.strip()
    others = (p for p in listed if p.person_id != person.person_id)
    if name and not any(name.casefold() in p.name.casefold() for p in others):
        return name
    return person.email or name


def _pick(person: PersonSummary, waiting: CrmCommand | None) -> str:
    """The command that finishes the waiting request for this person, with the user's words kept."""
    who = _who(person)
    match waiting:
        case AddNote(text=text):
            return f"note {who} {text}".strip()
        case CreateTask(title=title, due=due):
            return f"task {who} {title}".strip() + (f" due {due.isoformat()}" if due else "")
        case Follow():
            return f"follow {who}"
        case Overview() | None:
            return f"overview {who}"
    return f"overview {who}"


def _described(person: PersonSummary) -> str:
    return " · ".join(part for part in (person.name, person.title, person.company) if part)


def _examples(text: str) -> str:
    return text.replace(_SLACK_EXAMPLE_EMAIL, _ADA.email)


def as_text(
    block_list: Sequence[Block],
    hints: Mapping[str, str] | None = None,
    *,
    hint: Callable[[str, str], str | None] | None = None,
) -> str:
    """Block Kit as terminal text: headers, text, fields, context; a button as what to type (from hints, by action id,
    or from hint, by action id and value: several buttons of one kind, each for someone else) or, without one, as
    [its label]."""
    hints = hints or {}
    lines: list[str] = []

    def button(element: Mapping[str, object]) -> str:
        action_id, value = str(element.get("action_id")), str(element.get("value") or "")
        typed = hints.get(action_id) or (hint(action_id, value) if hint else None)
        text = element.get("text")
        label = text.get("text") if isinstance(text, Mapping) else None
        return typed or f"[{label}]"

    for block in blocks.to_dicts(block_list):
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {block['text']['text']} ==")
        elif kind == "section":
            if "text" in block:
                lines.append(_plain(block["text"]["text"]))
            lines.extend("  " + _field(f["text"]) for f in block.get("fields", []))
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                lines.append(f"  {button(accessory)}")
        elif kind == "context":
            lines.append("  " + " · ".join(_plain(e.get("text", "")) for e in block.get("elements", [])))
        elif kind == "actions":
            shown = [button(e) for e in block["elements"] if "text" in e]
            lines.append("  " + ("\n  ".join(shown) if hints or hint else "  ".join(shown)))  # commands: one a line
        elif kind == "divider":
            lines.append("  ---")
    return "\n".join(lines)


def _field(mrkdwn: str) -> str:
    """A card field, "*Title*\\nHead of Research", as "Title: Head of Research"."""
    label, _, value = mrkdwn.partition("\n")
    if value and label.startswith("*") and label.endswith("*"):
        return f"{_plain(label)}: {_plain(value).replace(chr(10), ' ')}"
    return _plain(mrkdwn).replace("\n", " ")


_DATE_TOKEN = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(?:mailto:)?([^|>]+)\|([^>]*)>")
_BARE_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)>")
_CODE_BLOCK = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)_(?![\w_])")


def _plain(mrkdwn: str) -> str:
    """Slack markup as a terminal shows it: markers dropped, dates by their fallback, links as "text (url)", commands
    without the slash command (this prompt has it). Only our own markup is real markup: CRM text arrives escaped."""
    text = _DATE_TOKEN.sub(r"\1", mrkdwn)
    text = _LINK.sub(lambda m: m.group(2) if m.group(2) in m.group(1) else f"{m.group(2)} ({m.group(1)})", text)
    text = _BARE_LINK.sub(lambda m: m.group(1).removeprefix("mailto:"), text)
    text = _CODE_BLOCK.sub(r"\1", text)
    text = _CODE.sub(lambda m: m.group(1).removeprefix("/rollout "), text)
    text = _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((\S+?)\)")
_MD_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_MD_BULLET = re.compile(r"^(\s*)[-*+] ", re.MULTILINE)
_MD_HEADING = re.compile(r"^#{1,6} ", re.MULTILINE)


def markdown_text(markdown: str) -> str:
    """The model's Markdown as terminal text: bullets as •, links as "text (url)", emphasis and code markers dropped."""
    text = _MD_LINK.sub(lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", markdown)
    text = _MD_BOLD.sub(lambda m: m.group(1) or m.group(2), text)
    text = _MD_HEADING.sub("", _MD_BULLET.sub(r"\1• ", text))
    return _CODE.sub(r"\1", _CODE_BLOCK.sub(r"\1", text))
