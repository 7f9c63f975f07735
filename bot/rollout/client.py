"""Typed calls to Rollout over the pooled sessions, each mapped to an outcome the Slack layer can render."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from bot.identity import SlackUser
from bot.rollout import parse
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Created,
    Credentials,
    Failure,
    FailureReason,
    Matches,
    NotFound,
    PersonOverview,
    Unrecognised,
)
from bot.rollout.pool import SessionPool
from bot.rollout.session import SessionUnavailable, UserSession
from bot.rollout.tools import WRITE_CAPABILITIES, Capability, ToolMap, build_arguments, classify

log = logging.getLogger(__name__)

Problem = ChooseCredential | ConnectNeeded | NotFound | Failure


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    """A successful tool result, raw (for the agent) and as parsed JSON (for the typed calls)."""

    result: types.CallToolResult
    body: dict[str, Any]


class RolloutClient:
    def __init__(
        self,
        pool: SessionPool,
        *,
        timeout: float,
        tool_names: Mapping[Capability, str | None] | None = None,
        rollout_origin: str = "",
    ) -> None:
        self._pool = pool
        self.rollout_origin = rollout_origin  # scheme://host of Rollout: only its credentials links mean anything
        self._unreadable_shapes: set[tuple[str, ...]] = set()
        self._timeout = timeout
        self._overrides = dict(tool_names or {})
        self._warned: set[tuple[Capability, tuple[str, ...]]] = set()

    # ---- discovery ----------------------------------------------------------------------------------------------

    async def tools(self, user: SlackUser) -> list[types.Tool] | Failure:
        """The user's complete tool list (every page), re-read when Rollout says it changed or its ttlMs ends."""
        for attempt in (1, 2):
            session: UserSession | None = None
            try:
                async with self._pool.session(user) as session:
                    async with asyncio.timeout(self._timeout):
                        return list(await session.list_tools())
            except (SessionUnavailable, TimeoutError, MCPError) as exc:
                if session is None:  # failed to open
                    if attempt == 1 and isinstance(exc, SessionUnavailable) and not self._rejected(exc):
                        continue
                    return self._connect_failure(exc)
                # Listing is a read, so a broken session is replaced and asked once more.
                await self._pool.discard(session)
                if session.auth.rejected:
                    return self._connect_failure(SessionUnavailable(exc, rejected=True))
                if attempt == 1 and not isinstance(exc, TimeoutError):
                    continue
                log.warning("rollout tool list failed for %s: %s", user, type(exc).__name__)
                return self._connect_failure(exc)
            except Exception as exc:
                return await self._unexpected(user, session, "tool list", exc, idempotent=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def tool_map(self, tools: list[types.Tool]) -> ToolMap:
        """What each tool is for; an ambiguity is logged once per process, so the admin can settle it."""
        found = classify(tools, self._overrides)
        for capability, names in found.ambiguous.items():
            if (capability, names) not in self._warned:
                self._warned.add((capability, names))
                setting = f"ROLLOUT_TOOL_{capability.name}"
                log.warning("several Rollout tools fit %s: %s; set %s to choose", capability, ", ".join(names), setting)
        return found

    def capabilities(self, tools: list[types.Tool]) -> dict[Capability, str]:
        return self.tool_map(tools).capabilities

    # ---- raw calls ----------------------------------------------------------------------------------------------

    async def call(
        self, user: SlackUser, name: str, arguments: dict[str, Any], *, idempotent: bool
    ) -> types.CallToolResult | Failure:
        """Call a tool. A dead session is replaced and the call retried once, unless a write may already have landed."""
        for attempt in (1, 2):
            session: UserSession | None = None
            try:
                async with self._pool.session(user) as session:
                    async with asyncio.timeout(self._timeout):
                        return await session.call_tool(name, arguments, read_timeout=self._timeout)
            except TimeoutError:
                # The call may still complete on Rollout's side: never retry it blindly.
                log.warning("rollout call %s timed out for %s", name, user)
                if session is not None:
                    await self._pool.discard(session)
                return Failure(FailureReason.TIMEOUT if idempotent else FailureReason.WRITE_UNCONFIRMED)
            except SessionUnavailable as exc:
                if session is None:  # failed to open: nothing was sent
                    if attempt == 1 and not self._rejected(exc):
                        continue
                    return self._connect_failure(exc)
                await self._pool.discard(session)
                if attempt == 1 and idempotent:
                    continue
                return Failure(FailureReason.UNREACHABLE if idempotent else FailureReason.WRITE_UNCONFIRMED)
            except MCPError as exc:
                # Tool-level problems arrive as isError results; an MCPError means the protocol or transport broke,
                # so this session is not trusted again.
                assert session is not None
                await self._pool.discard(session)
                if session.auth.rejected:
                    return self._connect_failure(SessionUnavailable(exc, rejected=True))
                # A terminated session never ran the call, so even a write is safe to send again.
                never_ran = exc.code == types.INVALID_REQUEST and "terminated" in exc.message.lower()
                if attempt == 1 and (idempotent or never_ran):
                    continue
                log.warning("rollout call %s failed for %s: code %s", name, user, exc.code)
                if exc.code == types.CONNECTION_CLOSED:  # the request may have reached Rollout before the drop
                    return Failure(FailureReason.UNREACHABLE if idempotent else FailureReason.WRITE_UNCONFIRMED)
                return Failure(FailureReason.SERVER_ERROR)
            except Exception as exc:
                return await self._unexpected(user, session, f"call {name}", exc, idempotent=idempotent)
        raise AssertionError("unreachable")  # pragma: no cover

    async def invoke(
        self, user: SlackUser, capability: Capability, values: Mapping[str, Any], query: str = ""
    ) -> ToolAnswer | Problem:
        """Call the tool serving `capability` with our argument names mapped onto its schema."""
        tools = await self.tools(user)
        if isinstance(tools, Failure):
            return tools
        name = self.capabilities(tools).get(capability)
        tool = next((t for t in tools if t.name == name), None)
        if tool is None:
            log.error("rollout offers no tool for %s", capability)
            return Failure(FailureReason.TOOL_MISSING)
        idempotent = capability not in WRITE_CAPABILITIES
        result = await self.call(user, tool.name, build_arguments(tool, values), idempotent=idempotent)
        if isinstance(result, Failure):
            return result
        return self.answer(result, query)

    def answer(self, result: types.CallToolResult, query: str = "") -> ToolAnswer | Problem:
        """A tool's result as the bot reads it: Rollout may say "no CRM connected" in an error or a normal result."""
        if result.is_error:
            return parse.tool_error(result, query, rollout_origin=self.rollout_origin)
        if parse.says_no_credentials(result, self.rollout_origin):
            return ConnectNeeded()
        return ToolAnswer(result, parse.payload(result))

    # ---- typed calls ----------------------------------------------------------------------------------------

    async def list_credentials(self, user: SlackUser) -> Credentials | Problem:
        answer = await self.invoke(user, Capability.LIST_CREDENTIALS, {})
        if not isinstance(answer, ToolAnswer):
            return answer
        return Credentials(parse.credentials(answer.body.get("credentials")))

    async def person_overview(
        self,
        user: SlackUser,
        *,
        query: str | None = None,
        email: str | None = None,
        person_id: str | None = None,
        credential_id: str | None = None,
    ) -> PersonOverview | Matches | Unrecognised | Problem:
        asked = query or email or person_id or ""
        values = {"query": query, "email": email, "person_id": person_id, "credential_id": credential_id}
        answer = await self.invoke(user, Capability.PERSON_OVERVIEW, values, query=asked)
        if not isinstance(answer, ToolAnswer):
            return answer
        found = parse.overview(answer.body, asked)
        shape = tuple(sorted(answer.body))
        if isinstance(found, Unrecognised) and shape not in self._unreadable_shapes:
            self._unreadable_shapes.add(shape)  # once per shape: the keys tell the admin what changed, values stay out
            log.warning("unrecognised person overview from Rollout, keys: %s", ", ".join(k[:40] for k in shape[:20]))
        return found

    async def create_person(
        self,
        user: SlackUser,
        *,
        first_name: str,
        last_name: str | None,
        email: str,
        title: str | None = None,
        company: str | None = None,
        phone: str | None = None,
        credential_id: str | None = None,
    ) -> Created | Problem:
        values = {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "title": title,
            "company": company,
            "phone": phone,
            "credential_id": credential_id,
        }
        answer = await self.invoke(user, Capability.CREATE_PERSON, values)
        if not isinstance(answer, ToolAnswer):
            return answer
        created = parse.overview(answer.body, email)
        if isinstance(created, PersonOverview):
            person = created.person
            return Created("person", person.id, f"{person.name} ({email})", person_id=person.id, url=person.url)
        name = " ".join(filter(None, [first_name, last_name]))
        return Created("person", "", f"{name} ({email})")

    async def create_note(
        self, user: SlackUser, *, person_id: str, content: str, credential_id: str | None = None
    ) -> Created | Problem:
        values = {"person_id": person_id, "content": content, "credential_id": credential_id}
        answer = await self.invoke(user, Capability.CREATE_NOTE, values, query=person_id)
        if not isinstance(answer, ToolAnswer):
            return answer
        found = answer.body.get("note")
        note: dict[str, Any] = found if isinstance(found, dict) else answer.body
        preview = content if len(content) <= 80 else content[:79] + "…"
        return Created("note", str(note.get("id", "")), f"Note “{preview}”", person_id=person_id)

    async def create_task(
        self,
        user: SlackUser,
        *,
        person_id: str,
        title: str,
        due_date: str | None = None,
        description: str | None = None,
        credential_id: str | None = None,
    ) -> Created | Problem:
        values = {
            "person_id": person_id,
            "title": title,
            "due_date": due_date,
            "description": description,
            "credential_id": credential_id,
        }
        answer = await self.invoke(user, Capability.CREATE_TASK, values, query=person_id)
        if not isinstance(answer, ToolAnswer):
            return answer
        found = answer.body.get("task")
        task: dict[str, Any] = found if isinstance(found, dict) else answer.body
        due = f" due {due_date}" if due_date else ""
        return Created("task", str(task.get("id", "")), f"Task “{title}”{due}", person_id=person_id)

    # ---- helpers ------------------------------------------------------------------------------------------------

    async def _unexpected(
        self, user: SlackUser, session: UserSession | None, what: str, exc: Exception, *, idempotent: bool
    ) -> Failure:
        """Anything else the SDK raised, e.g. on an answer it could not read: a Failure, and the session is dropped,
        since what state it was left in is unknown. Asking again would get the same answer, so nothing is retried.

        Only the exception's type is logged: its text may quote the answer, which holds CRM data and maybe tokens.
        """
        log.warning("rollout %s failed for %s: unexpected %s", what, user, type(exc).__name__)
        if session is None:  # it failed opening the session: nothing was sent
            return Failure(FailureReason.UNREACHABLE)
        await self._pool.discard(session)
        # Rollout did answer, so a write may have been saved.
        return Failure(FailureReason.SERVER_ERROR if idempotent else FailureReason.WRITE_UNCONFIRMED)

    @staticmethod
    def _rejected(exc: SessionUnavailable) -> bool:
        return exc.rejected

    @staticmethod
    def _connect_failure(exc: BaseException) -> Failure:
        if isinstance(exc, TimeoutError):
            return Failure(FailureReason.TIMEOUT)
        if isinstance(exc, SessionUnavailable) and exc.rejected:
            # Users can only be told to reconnect; a secret Rollout refuses is the admin's to fix, so say it loudly.
            log.error("Rollout refused a freshly minted token: check ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET")
            return Failure(FailureReason.TOKEN_REJECTED)
        return Failure(FailureReason.UNREACHABLE)
