"""CrmService: one method per capability, shared by slash commands, buttons, modals, shortcuts, the demo and the agent.

It owns the credential rules (default account injected, a stale default dropped) so no entry point repeats them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import mcp_types as types

from bot import work
from bot.commands import PersonRef
from bot.emails import is_email
from bot.identity import SlackUser
from bot.rollout import parse
from bot.rollout.client import Problem, RolloutClient
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Created,
    Credentials,
    Disconnected,
    Failure,
    FailureReason,
    Matches,
    NotFound,
    PersonOverview,
    PersonSummary,
    Unrecognised,
)
from bot.rollout.tokens import TokenService
from bot.rollout.tools import Capability, argument_mapping
from bot.store import Store

T = TypeVar("T")
log = logging.getLogger(__name__)

# Told of every task created through the bot with a due date: who, for whom, the task's id, title and due date.
TaskCreated = Callable[[SlackUser, PersonRef, str, str, str], Awaitable[object]]


class CrmService:
    def __init__(self, rollout: RolloutClient, store: Store, tokens: TokenService, mcp_url: str) -> None:
        self._rollout = rollout
        self._store = store
        self._tokens = tokens
        origin = urlsplit(mcp_url)
        self._credentials_base = f"{origin.scheme}://{origin.netloc}/mcp/credentials/"
        self._task_created: list[TaskCreated] = []

    def on_task_created(self, listener: TaskCreated) -> None:
        """Be told of each task created with a due date, whichever way it was asked for (reminders)."""
        self._task_created.append(listener)

    # ---- reads ------------------------------------------------------------------------------------------------

    async def overview(
        self, user: SlackUser, query: str, *, credential_id: str | None = None
    ) -> PersonOverview | Matches | Unrecognised | Problem:
        query = query.strip()
        by_email = is_email(query)

        async def fetch(cred: str | None) -> PersonOverview | Matches | Unrecognised | Problem:
            if by_email:
                return await self._rollout.person_overview(user, email=query, credential_id=cred)
            return await self._rollout.person_overview(user, query=query, credential_id=cred)

        found = await self._with_credential(user, credential_id, fetch)
        if isinstance(found, Matches) and len(found.people) == 1:
            return await self.person(user, found.people[0].id, credential_id=credential_id)
        return found

    async def person(
        self, user: SlackUser, person_id: str, *, credential_id: str | None = None
    ) -> PersonOverview | Matches | Unrecognised | Problem:
        async def fetch(cred: str | None) -> PersonOverview | Matches | Unrecognised | Problem:
            return await self._rollout.person_overview(user, person_id=person_id, credential_id=cred)

        return await self._with_credential(user, credential_id, fetch)

    async def search_people(self, user: SlackUser, query: str) -> list[PersonSummary] | Problem:
        found = await self.overview(user, query)
        if isinstance(found, PersonOverview):
            return [found.person.summary]
        if isinstance(found, Matches):
            return list(found.people)
        if isinstance(found, NotFound | Unrecognised):
            return []
        return found

    async def credentials(self, user: SlackUser) -> Credentials | Problem:
        listed = await self._rollout.list_credentials(user)
        if isinstance(listed, ConnectNeeded) or (isinstance(listed, Credentials) and not listed.credentials):
            return await self.connect_link(user)
        if not isinstance(listed, Credentials):
            return listed
        record = await self._store.users.get_or_create(user)
        default = record.default_credential_id
        if default is not None and default not in {c.id for c in listed.credentials}:
            await self._store.users.set_default_credential(user, None)
            default = None
        return Credentials(listed.credentials, default)

    async def set_default_credential(self, user: SlackUser, credential_id: str) -> Credentials | Problem:
        listed = await self.credentials(user)
        if not isinstance(listed, Credentials):
            return listed
        if credential_id not in {c.id for c in listed.credentials}:
            return Failure(FailureReason.CREDENTIAL_GONE)
        await self._store.users.set_default_credential(user, credential_id)
        await self._store.activity.record(user, "Changed your default CRM account")
        return Credentials(listed.credentials, credential_id)

    async def disconnect(self, user: SlackUser) -> Disconnected:
        """Forget the user's stored Rollout token, default CRM account, conversation memory, the people they follow
        (with the overviews kept for digests) and their reminders; the next command starts fresh (a new token is
        minted for the same subject, so their CRM connections at Rollout remain)."""
        token, default_account = await self._store.users.forget_connection(user)
        self._tokens.forget(user)  # the in-memory copy too, or this process would keep using it
        conversations, messages = await self._store.conversations.forget_started_by(user)
        followed = await self._store.follows.forget(user)
        reminders = await self._store.schedule.cancel(user, kind="reminder")
        await self._store.schedule.cancel(user)  # the digest, with no one left to tell about
        return Disconnected(token, default_account, conversations, messages, followed, reminders)

    async def connect_link(self, user: SlackUser) -> ConnectNeeded:
        """Rollout's credential manager for this user, always built here on Rollout's own origin from a freshly minted
        token, so it works for the token's whole lifetime. The link embeds that token: DM it, never log it."""
        issued = await self._tokens.fresh(user)
        minutes = max(int(self._tokens.lifetime.total_seconds() // 60), 1)
        return ConnectNeeded(self._credentials_base + issued.token, valid_minutes=minutes)

    # ---- people -----------------------------------------------------------------------------------------------

    async def resolve(
        self, user: SlackUser, query: str, *, credential_id: str | None = None
    ) -> PersonRef | Matches | Unrecognised | Problem:
        """The one person a query means, with the account they were found in; several, none, or why not."""
        found = await self.overview(user, query, credential_id=credential_id)
        if isinstance(found, PersonOverview):
            return person_ref(found, credential_id)
        return found

    async def refind(self, user: SlackUser, person: PersonRef) -> PersonRef | Matches | NotFound | Problem:
        """The same person in the user's own (default) account: by email, else a list to pick from by name.

        A person id belongs to one CRM account, so moving a write to another account means finding them again there;
        a name alone could be someone else, so it is never taken without the user's pick.
        """
        if person.email:
            found = await self.overview(user, person.email)
            if isinstance(found, PersonOverview):
                return person_ref(found, None)
            if isinstance(found, Unrecognised):
                return NotFound(person.email)
            return found
        query = person.name or person.id
        people = await self.search_people(user, query)
        if isinstance(people, list):
            return Matches(query, tuple(people)) if people else NotFound(query)
        return people

    async def default_credential(self, user: SlackUser) -> str | None:
        return (await self._store.users.get_or_create(user)).default_credential_id

    # ---- writes -----------------------------------------------------------------------------------------------

    async def add_note(self, user: SlackUser, person: PersonRef, content: str) -> Created | Matches | Problem:
        if not content.strip():
            return Failure(FailureReason.INVALID_INPUT, "The note is empty.")

        async def write(person_id: str, cred: str | None) -> Created | Problem:
            return await self._rollout.create_note(user, person_id=person_id, content=content, credential_id=cred)

        return await self._write_about(user, person, write)

    async def create_task(
        self,
        user: SlackUser,
        person: PersonRef,
        title: str,
        *,
        due_date: str | None = None,
        description: str | None = None,
    ) -> Created | Matches | Problem:
        if not title.strip():
            return Failure(FailureReason.INVALID_INPUT, "The task needs a title.")

        async def write(person_id: str, cred: str | None) -> Created | Problem:
            return await self._rollout.create_task(
                user, person_id=person_id, title=title, due_date=due_date, description=description, credential_id=cred
            )

        created = await self._write_about(user, person, write)
        if isinstance(created, Created) and due_date:
            written_for = (
                person
                if created.person_id in (None, person.id)
                else replace(person, id=created.person_id, credential_id=None)
            )
            await self._tell_task_created(user, written_for, created.id, title, due_date)
        return created

    async def create_person(
        self,
        user: SlackUser,
        *,
        first_name: str,
        last_name: str | None,
        email: str,
        title: str | None = None,
        company: str | None = None,
        credential_id: str | None = None,
    ) -> Created | Problem:
        if not is_email(email.strip()):
            return Failure(FailureReason.INVALID_INPUT, f"“{email[:100]}” doesn't look like an email address.")

        async def write(cred: str | None) -> Created | Problem:
            await work.note(write=True)  # from here on a takeover must not send it again
            return await self._rollout.create_person(
                user,
                first_name=first_name,
                last_name=last_name,
                email=email.strip(),
                title=title,
                company=company,
                credential_id=cred,
            )

        return await self._record(user, await self._with_credential(user, credential_id, write))

    # ---- the agent's door: any Rollout tool, with the same credential rules ------------------------------------

    async def tools(self, user: SlackUser) -> list[types.Tool] | Failure:
        return await self._rollout.tools(user)

    def write_tools(self, tools: list[types.Tool]) -> set[str]:
        """Every tool but the reads: one the bot can't classify might write, so it needs approval too."""
        return set(self._rollout.tool_map(tools).writes(tools))

    async def call_tool(
        self, user: SlackUser, tool: types.Tool, arguments: dict[str, Any], *, is_write: bool
    ) -> types.CallToolResult | ChooseCredential | ConnectNeeded | Failure:
        """Call a tool the model chose. Credential problems come back as outcomes, so the Slack flows handle them."""
        takes_credential = "credentialId" in (tool.input_schema or {}).get("properties", {})

        async def run(cred: str | None) -> types.CallToolResult | ChooseCredential | ConnectNeeded | Failure:
            args = dict(arguments)
            if takes_credential and cred and not args.get("credentialId"):
                args["credentialId"] = cred
            if is_write:
                await work.note(write=True)  # from here on a takeover must not send it again
            result = await self._rollout.call(user, tool.name, args, idempotent=not is_write)
            if isinstance(result, Failure):
                return result
            if is_write and not result.is_error:
                await self._task_by_tool(user, tool, args, result)
            read = self._rollout.answer(result)
            # Credential problems are ours to solve; anything else (bad input, not found) goes back to the model.
            if isinstance(read, ChooseCredential | ConnectNeeded) or (
                isinstance(read, Failure) and read.reason is FailureReason.CREDENTIAL_GONE
            ):
                return read
            return result

        explicit = arguments.get("credentialId") if takes_credential else None
        return await self._with_credential(user, explicit if isinstance(explicit, str) else None, run)

    async def _task_by_tool(
        self, user: SlackUser, tool: types.Tool, arguments: dict[str, Any], result: types.CallToolResult
    ) -> None:
        """A task the agent created (with the user's click) is reminded of like any other: known by the tool that
        serves task creation, its arguments read in our own names."""
        tools = await self._rollout.tools(user)
        if isinstance(tools, Failure):
            return
        if self._rollout.tool_map(tools).capabilities.get(Capability.CREATE_TASK) != tool.name:
            return
        spelled = argument_mapping(tool)
        person_id, title, due = (arguments.get(spelled.get(name, name)) for name in ("person_id", "title", "due_date"))
        credential = arguments.get(spelled.get("credential_id", "credentialId"))
        if not (isinstance(person_id, str) and isinstance(title, str) and isinstance(due, str) and due):
            return
        body = parse.payload(result)
        task = body.get("task") if isinstance(body.get("task"), dict) else body
        task_id = str(task.get("id") or "") if isinstance(task, dict) else ""
        person = PersonRef(person_id, credential_id=credential if isinstance(credential, str) else None)
        await self._tell_task_created(user, person, task_id, title, due)

    async def _tell_task_created(self, user: SlackUser, person: PersonRef, task_id: str, title: str, due: str) -> None:
        for listener in self._task_created:
            try:
                await listener(user, person, task_id, title, due)
            except Exception as error:  # the task is written: a reminder that can't be planned must not hide that
                log.warning("planning a task reminder failed: %s", type(error).__name__)

    async def record_activity(self, user: SlackUser, text: str) -> None:
        await self._store.activity.record(user, text)

    # ---- credential rules -------------------------------------------------------------------------------------

    async def _with_credential(
        self, user: SlackUser, credential_id: str | None, call: Callable[[str | None], Awaitable[T]]
    ) -> T | ChooseCredential | ConnectNeeded:
        """`call`'s outcome (its Problems included), a picker with the user's accounts, or our own connect link."""
        chosen = credential_id
        if chosen is None:
            chosen = (await self._store.users.get_or_create(user)).default_credential_id
        outcome: T | ChooseCredential = await call(chosen)
        stale = isinstance(outcome, Failure) and outcome.reason is FailureReason.CREDENTIAL_GONE
        if stale and credential_id is None and chosen is not None:
            # The default account was disconnected in Rollout: forget it and let Rollout's own rules decide.
            await self._store.users.set_default_credential(user, None)
            outcome = await call(None)
        if isinstance(outcome, ChooseCredential) and not outcome.credentials:
            listed = await self._rollout.list_credentials(user)
            if isinstance(listed, Credentials):
                outcome = ChooseCredential(listed.credentials)
        if isinstance(outcome, ConnectNeeded):
            # Whatever Rollout sent is only a signal: the link shown is always our own.
            return await self.connect_link(user)
        return outcome

    async def _write_about(
        self, user: SlackUser, person: PersonRef, write: Callable[[str, str | None], Awaitable[Created | Problem]]
    ) -> Created | Matches | Problem:
        """A write about a person, in the account their id belongs to. If that account is gone, the person is found
        again in the user's own account first: an id never crosses accounts."""
        await work.note(write=True)  # from here on a takeover must not send it again
        outcome = await self._with_credential(user, person.credential_id, lambda cred: write(person.id, cred))
        gone = isinstance(outcome, Failure) and outcome.reason is FailureReason.CREDENTIAL_GONE
        if gone and person.credential_id is not None:
            found = await self.refind(user, person)
            if not isinstance(found, PersonRef):
                return found
            person = found
            outcome = await self._with_credential(user, None, lambda cred: write(person.id, cred))
        return await self._record(user, outcome, person)

    async def _record(
        self, user: SlackUser, outcome: Created | Problem, about: PersonRef | None = None
    ) -> Created | Problem:
        if not isinstance(outcome, Created):
            return outcome
        if about is not None:
            outcome = replace(outcome, person_name=about.name or outcome.person_name, url=outcome.url or about.url)
        for_whom = f" for {outcome.person_name}" if outcome.person_name else ""
        await self._store.activity.record(user, f"Created {outcome.summary}{for_whom}")
        return outcome


def person_ref(found: PersonOverview, asked_credential: str | None) -> PersonRef:
    """Who an overview is about, with the account it came from (as Rollout said, else as it was asked)."""
    person = found.person
    credential = found.credential.id if found.credential else asked_credential
    return PersonRef(person.id, person.name, person.email, credential, person.url)
