"""CrmService: one method per capability, shared by slash commands, buttons, modals, shortcuts, the demo and the agent.

It owns the credential rules (default account injected, a stale default dropped) so no entry point repeats them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import mcp_types as types

from bot.identity import SlackUser
from bot.rollout.client import Problem, RolloutClient
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Created,
    Credentials,
    Failure,
    FailureReason,
    Matches,
    NotFound,
    Person,
    PersonOverview,
    PersonSummary,
    Unrecognised,
)
from bot.rollout.tokens import TokenService
from bot.store import Store

T = TypeVar("T")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CrmService:
    def __init__(self, rollout: RolloutClient, store: Store, tokens: TokenService, mcp_url: str) -> None:
        self._rollout = rollout
        self._store = store
        self._tokens = tokens
        origin = urlsplit(mcp_url)
        self._credentials_base = f"{origin.scheme}://{origin.netloc}/mcp/credentials/"

    # ---- reads ------------------------------------------------------------------------------------------------

    async def overview(
        self, user: SlackUser, query: str, *, credential_id: str | None = None
    ) -> PersonOverview | Matches | Unrecognised | Problem:
        query = query.strip()
        is_email = bool(_EMAIL.match(query))

        async def fetch(cred: str | None) -> PersonOverview | Matches | Unrecognised | Problem:
            if is_email:
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

    async def connect_link(self, user: SlackUser) -> ConnectNeeded:
        """Rollout's credential manager for this user, always built here on Rollout's own origin from a freshly minted
        token, so it works for the token's whole lifetime. The link embeds that token: DM it, never log it."""
        issued = await self._tokens.fresh(user)
        minutes = max(int(self._tokens.lifetime.total_seconds() // 60), 1)
        return ConnectNeeded(self._credentials_base + issued.token, valid_minutes=minutes)

    # ---- writes -----------------------------------------------------------------------------------------------

    async def add_note(
        self,
        user: SlackUser,
        person_id: str,
        content: str,
        *,
        credential_id: str | None = None,
        about: Person | PersonSummary | None = None,
    ) -> Created | Problem:
        """`about`, when the caller has it, names the person in the confirmation."""
        if not content.strip():
            return Failure(FailureReason.INVALID_INPUT, "The note is empty.")

        async def write(cred: str | None) -> Created | Problem:
            return await self._rollout.create_note(user, person_id=person_id, content=content, credential_id=cred)

        return await self._record(user, await self._with_credential(user, credential_id, write), about)

    async def create_task(
        self,
        user: SlackUser,
        person_id: str,
        title: str,
        *,
        due_date: str | None = None,
        description: str | None = None,
        credential_id: str | None = None,
        about: Person | PersonSummary | None = None,
    ) -> Created | Problem:
        if not title.strip():
            return Failure(FailureReason.INVALID_INPUT, "The task needs a title.")

        async def write(cred: str | None) -> Created | Problem:
            return await self._rollout.create_task(
                user, person_id=person_id, title=title, due_date=due_date, description=description, credential_id=cred
            )

        return await self._record(user, await self._with_credential(user, credential_id, write), about)

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
        if not _EMAIL.match(email.strip()):
            return Failure(FailureReason.INVALID_INPUT, f"“{email[:100]}” doesn't look like an email address.")

        async def write(cred: str | None) -> Created | Problem:
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

    async def note_about(
        self, user: SlackUser, person_query: str, content: str
    ) -> Created | Matches | Unrecognised | Problem:
        """`/rollout note <person> <text>`: find the one person meant, then write to the account they were found in."""
        found = await self.overview(user, person_query)
        if not isinstance(found, PersonOverview):
            return found
        return await self.add_note(
            user, found.person.id, content, credential_id=_credential_id(found), about=found.person
        )

    async def task_for(
        self, user: SlackUser, person_query: str, title: str, *, due_date: str | None = None
    ) -> Created | Matches | Unrecognised | Problem:
        found = await self.overview(user, person_query)
        if not isinstance(found, PersonOverview):
            return found
        return await self.create_task(
            user, found.person.id, title, due_date=due_date, credential_id=_credential_id(found), about=found.person
        )

    # ---- the agent's door: any Rollout tool, with the same credential rules ------------------------------------

    async def tools(self, user: SlackUser) -> list[types.Tool] | Failure:
        return await self._rollout.tools(user)

    def write_tools(self, tools: list[types.Tool]) -> set[str]:
        """Every tool but the reads: one the bot can't classify might write, so it needs approval too."""
        return set(self._rollout.tool_map(tools).writes(tools))

    async def call_tool(
        self, user: SlackUser, tool: types.Tool, arguments: dict[str, Any], *, is_write: bool
    ) -> types.CallToolResult | Problem:
        """Call a tool the model chose. Credential problems come back as outcomes, so the Slack flows handle them."""
        takes_credential = "credentialId" in (tool.input_schema or {}).get("properties", {})

        async def run(cred: str | None) -> types.CallToolResult | Problem:
            args = dict(arguments)
            if takes_credential and cred and not args.get("credentialId"):
                args["credentialId"] = cred
            result = await self._rollout.call(user, tool.name, args, idempotent=not is_write)
            if isinstance(result, Failure):
                return result
            read = self._rollout.answer(result)
            # Credential problems are ours to solve; anything else (bad input, not found) goes back to the model.
            if isinstance(read, ChooseCredential | ConnectNeeded) or (
                isinstance(read, Failure) and read.reason is FailureReason.CREDENTIAL_GONE
            ):
                return read
            return result

        explicit = arguments.get("credentialId") if takes_credential else None
        return await self._with_credential(user, explicit if isinstance(explicit, str) else None, run)

    async def record_activity(self, user: SlackUser, text: str) -> None:
        await self._store.activity.record(user, text)

    # ---- credential rules -------------------------------------------------------------------------------------

    async def _with_credential(
        self, user: SlackUser, credential_id: str | None, call: Callable[[str | None], Awaitable[T | Problem]]
    ) -> T | Problem:
        chosen = credential_id
        if chosen is None:
            chosen = (await self._store.users.get_or_create(user)).default_credential_id
        outcome = await call(chosen)
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

    async def _record(
        self, user: SlackUser, outcome: Created | Problem, about: Person | PersonSummary | None = None
    ) -> Created | Problem:
        if not isinstance(outcome, Created):
            return outcome
        if about is not None:
            url = outcome.url or (about.url if isinstance(about, Person) else None)
            outcome = replace(outcome, person_name=about.name, url=url)
        for_whom = f" for {outcome.person_name}" if outcome.person_name else ""
        await self._store.activity.record(user, f"Created {outcome.summary}{for_whom}")
        return outcome


def _credential_id(found: PersonOverview) -> str | None:
    return found.credential.id if found.credential else None
