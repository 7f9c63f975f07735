"""Running a command: one `match` on its type, the same for Slack and the terminal demo.

What differs between them is the surface: how an outcome is shown, whether a form can be opened for the missing parts,
where free text goes. Adding a subcommand touches the parser (bot/commands.py), this runner and one renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Protocol

from bot.blocks.text import is_plausible_email
from bot.commands import (
    AddNote,
    Command,
    Connect,
    CreatePerson,
    CreateTask,
    CrmCommand,
    Disconnect,
    Follow,
    FreeText,
    Help,
    ListCredentials,
    ListFollowing,
    Overview,
    PersonRef,
    ShowDigest,
    ShowPerson,
    SwitchDigest,
    Unfollow,
)
from bot.crm import CrmService
from bot.follows import Follows
from bot.identity import SlackUser
from bot.ids import SLASH_COMMAND
from bot.rollout.outcomes import Failure, FailureReason, Matches, Outcome, PersonOverview

NOTE_EXAMPLE = f"{SLASH_COMMAND} note ada@example.com Called about the renewal"
TASK_EXAMPLE = f"{SLASH_COMMAND} task ada@example.com Send the proposal due friday"
PERSON_EXAMPLE = f"{SLASH_COMMAND} person Ada Lovelace ada@example.com"


# ---- forms: what a surface opens to ask for the missing parts ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteForm:
    target: PersonRef | None  # None: the form asks who the note is about
    text: str = ""


@dataclass(frozen=True, slots=True)
class TaskForm:
    target: PersonRef | None
    title: str = ""
    due: date | None = None
    description: str = ""
    error: str | None = None  # shown above the form, e.g. a date that could not be read


@dataclass(frozen=True, slots=True)
class PersonForm:
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    job_title: str = ""
    company: str = ""
    error: str | None = None


Form = NoteForm | TaskForm | PersonForm


class Surface(Protocol):
    """Where a command's answer goes: Slack (Block Kit, modals) or a terminal (text, no forms)."""

    @property
    def user(self) -> SlackUser: ...

    async def show(
        self, outcome: Outcome, *, waiting: CrmCommand | None = None, credential_id: str | None = None
    ) -> None:
        """Show an outcome. `waiting`: what to run again once the user picks or connects a CRM account;
        `credential_id`: the account the request used, carried on pick-list choices."""

    async def ask(self, form: Form) -> bool:
        """Open a form for what is missing; False when this surface can't, so the runner says what to type."""

    async def help(self, problem: str | None) -> None: ...

    async def free_text(self, text: str) -> None:
        """Anything that is not a command: a question for the agent."""


async def run(command: Command, crm: CrmService, surface: Surface, follows: Follows) -> None:
    user = surface.user
    match command:
        case Help(problem=problem):
            await surface.help(problem)
        case Connect():
            await surface.show(await crm.connect_link(user))
        case Disconnect():
            await surface.show(await crm.disconnect(user))
        case FreeText(text=text):
            await surface.free_text(text)
        case ListCredentials():
            await surface.show(await crm.credentials(user), waiting=command)
        case Overview(query=query, credential_id=credential):
            # Parked without an account: once the user picks or connects one, their new default applies.
            found = await crm.overview(user, query, credential_id=credential)
            await surface.show(found, waiting=replace(command, credential_id=None), credential_id=credential)
        case ShowPerson(person=person):
            found = await crm.person(user, person.id, credential_id=person.credential_id)
            await surface.show(found, waiting=command, credential_id=person.credential_id)
        case AddNote():
            await _note(command, crm, surface)
        case CreateTask():
            await _task(command, crm, surface)
        case CreatePerson():
            await _create_person(command, crm, surface)
        case Follow(query=query, credential_id=credential):
            found = await crm.overview(user, query, credential_id=credential)
            if isinstance(found, PersonOverview):
                await surface.show(await follows.follow(user, found, credential))
            else:  # several (the card picked then has Follow), no one, or an account to pick or connect first
                await surface.show(found, waiting=replace(command, credential_id=None), credential_id=credential)
        case Unfollow(query=query):
            await surface.show(await follows.unfollow_matching(user, query))
        case ListFollowing():
            await surface.show(await follows.following(user))
        case ShowDigest():
            await surface.show(await follows.digest_now(user))
        case SwitchDigest(on=on):
            await surface.show(await follows.switch_digest(user, on))


async def _note(command: AddNote, crm: CrmService, surface: Surface) -> None:
    target = command.target or await _find(command, NoteForm(None, command.text), crm, surface)
    if target is None:
        return
    if not command.text.strip():
        await _ask_or_explain(surface, NoteForm(target), f"Write the note after the person, e.g. `{NOTE_EXAMPLE}`.")
        return
    written = await crm.add_note(surface.user, target, command.text)
    if isinstance(written, Matches) and await surface.ask(NoteForm(None, command.text)):
        return  # the person had to be found again in another account: the form asks who, keeping the text
    await surface.show(written, waiting=replace(command, target=target))


async def _task(command: CreateTask, crm: CrmService, surface: Surface) -> None:
    form = TaskForm(None, command.title, command.due, command.description)
    target = command.target or await _find(command, form, crm, surface)
    if target is None:
        return
    if not command.title.strip() or command.due_text:
        unreadable = f"I couldn't read “{command.due_text}” as a date — pick one below." if command.due_text else None
        hint = unreadable or f"Give the task a title after the person, e.g. `{TASK_EXAMPLE}`."
        await _ask_or_explain(surface, replace(form, target=target, error=unreadable), hint)
        return
    due = command.due.isoformat() if command.due else None
    written = await crm.create_task(
        surface.user, target, command.title, due_date=due, description=command.description or None
    )
    if isinstance(written, Matches) and await surface.ask(form):
        return
    await surface.show(written, waiting=replace(command, target=target))


async def _create_person(command: CreatePerson, crm: CrmService, surface: Surface) -> None:
    if not command.first_name.strip() or not is_plausible_email(command.email):
        problem = f"“{command.email}” doesn't look like an email address." if command.email else None
        form = PersonForm(
            command.first_name, command.last_name, command.email, command.job_title, command.company, problem
        )
        await _ask_or_explain(surface, form, f"Give a name and an email, e.g. `{PERSON_EXAMPLE}`.")
        return
    created = await crm.create_person(
        surface.user,
        first_name=command.first_name,
        last_name=command.last_name or None,
        email=command.email,
        title=command.job_title or None,
        company=command.company or None,
    )
    await surface.show(created, waiting=command)


async def _find(command: AddNote | CreateTask, form: Form, crm: CrmService, surface: Surface) -> PersonRef | None:
    """Who a note or task is for. None when that is not settled yet and the user has been asked (or told why)."""
    found = await crm.resolve(surface.user, command.person)
    if isinstance(found, PersonRef):
        return found
    if isinstance(found, Matches) and await surface.ask(form):
        return None  # several people fit: the form's person search keeps what the user typed
    await surface.show(found, waiting=command)
    return None


async def _ask_or_explain(surface: Surface, form: Form, hint: str) -> None:
    if not await surface.ask(form):
        await surface.show(Failure(FailureReason.NEEDS_MORE, hint))
