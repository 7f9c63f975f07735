"""Approve / Edit / Cancel on a write the model proposed. Only the requester decides; one compare-and-set decides once.

Nothing the model reads can write: a write tool runs here, and only after the requester's click moved the approval
from pending to approved in the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import mcp_types as types

from bot.agent.conversation import ConversationLocks, find_pending, resolution
from bot.agent.history import Message
from bot.agent.results import CredentialProblem, Decided, Edited
from bot.agent.toolset import Classify
from bot.agent.writes import (
    Proposed,
    WhoFor,
    WriteDescription,
    apply_edits,
    contacts_seen,
    describe,
    editable_fields,
    people_seen,
    person_of,
    proposal_of,
    tool_arguments,
)
from bot.approvals import ApprovalLifecycle, Decision, WriteOutcome
from bot.blocks.messages import user_message
from bot.commands import PersonRef
from bot.crm import CrmService
from bot.identity import SlackUser
from bot.rollout import parse
from bot.rollout.outcomes import Failure, FailureReason
from bot.rollout.tools import Capability
from bot.store import ApprovalRecord, Store
from bot.store.thread_logs import THREAD_SAVE_TOOL

log = logging.getLogger(__name__)

CANCELLED_OUTPUT = "The user cancelled this change in Slack; nothing was written."
EXPIRED_OUTPUT = "The approval card expired before the user decided; nothing was written."
CANCELLED_REPLY = "Okay — cancelled. Nothing was written to your CRM."
EXPIRED_REPLY = "That approval expired, so nothing was written. Ask again if you still want it."
MAX_OUTPUT_CHARS = 4000


class ApprovalDesk:
    def __init__(
        self,
        store: Store,
        crm: CrmService,
        classify: Classify,
        locks: ConversationLocks,
        *,
        history_chars: int | None = None,
    ) -> None:
        self._history_chars = history_chars  # how much of a conversation a click reads, newest first
        self._store = store
        self._crm = crm
        self._classify = classify
        self._locks = locks
        # A saved-thread card (bot/thread_saves.py) shares the table, not these buttons.
        self._lifecycle = ApprovalLifecycle(store.approvals, accepts=lambda r: r.tool_name != THREAD_SAVE_TOOL)

    # ---- reading ------------------------------------------------------------------------------------------------

    async def describe(self, record: ApprovalRecord) -> WriteDescription:
        """The card's words, rebuilt from what is stored: what was decided at proposal, never a new CRM read."""
        return await self._describe(record, record.arguments)

    async def edit_form(self, approval_id: str, actor: SlackUser) -> Edited | dict[str, str]:
        """The fields to prefill the edit modal with, or why this person can't edit it."""
        found = await self._lifecycle.editable(approval_id, actor)
        if isinstance(found, Decision):
            return Edited(found.status, found.record)
        return editable_fields(found.arguments)

    # ---- deciding -----------------------------------------------------------------------------------------------

    async def edit(
        self, approval_id: str, actor: SlackUser, edits: Mapping[str, str], *, now: datetime | None = None
    ) -> Edited:
        found = await self._lifecycle.editable(approval_id, actor, now=now)
        if isinstance(found, Decision):
            return Edited(found.status, found.record)
        arguments = apply_edits(found.arguments, edits)
        description = await self._describe(found, arguments)
        revised = await self._lifecycle.revise(found.id, actor, arguments, description.summary, now=now)
        return Edited(revised.status, revised.record, description if revised.status == "edited" else None)

    async def decide(
        self, approval_id: str, actor: SlackUser, *, approve: bool, now: datetime | None = None
    ) -> Decided:
        """Every click decides afresh from the stored state (bot/approvals.py), so a click after a crash or a failure
        can finish the job; nothing writes once the approval has expired."""
        decision = await self._lifecycle.decide(approval_id, actor, approve=approve, write=self._write, now=now)
        record = decision.record
        if decision.written is not None:  # this click ran the write: done, failed, or to be approved again
            return replace(decision.written, record=record)
        if record is not None and decision.status in ("cancelled", "expired"):
            if decision.changed:
                cancelled = decision.status == "cancelled"
                output, reply = (CANCELLED_OUTPUT, CANCELLED_REPLY) if cancelled else (EXPIRED_OUTPUT, EXPIRED_REPLY)
                await self._close(record, output, reply)
            return Decided(decision.status, record, await self.describe(record))
        return Decided(decision.status, record)

    async def _write(self, record: ApprovalRecord) -> WriteOutcome[Decided]:
        """Send the approved write, under the claim bot/approvals.py took just before: a process that dies before
        calling Rollout leaves the write to the next click, and one that dies after it never lets it be sent twice."""
        description = await self.describe(record)
        user = record.requester
        tools = await self._crm.tools(user)
        tool = None if isinstance(tools, Failure) else next((t for t in tools if t.name == record.tool_name), None)
        if tool is None:
            return _not_sent(
                record, description, tools if isinstance(tools, Failure) else Failure(FailureReason.TOOL_MISSING)
            )
        result = await self._crm.call_tool(user, tool, tool_arguments(record.arguments), is_write=True)
        gone = isinstance(result, Failure) and result.reason is FailureReason.CREDENTIAL_GONE
        if gone and record.arguments.get("credentialId"):
            moved = await self._moved(record)
            if isinstance(moved, str):  # the person isn't (clearly) in the user's current account: nothing was written
                return _failed(record, description, moved, None)
            result = await self._crm.call_tool(user, tool, moved, is_write=True)
        if isinstance(result, types.CallToolResult) and not result.is_error:
            await self._crm.record_activity(user, f"Approved: {record.summary}")
            done = Decided("done", record, description, tool_output=_output(result))
            return WriteOutcome("done", done, {"ok": True})
        if isinstance(result, types.CallToolResult):  # the CRM refused it: its words help the user fix the input
            return _failed(record, description, parse.scrub(_output(result)), None, output=_output(result))
        if isinstance(result, Failure) and result.reason is FailureReason.WRITE_UNCONFIRMED:
            # It may have been written: never send it again, say so.
            return _failed(record, description, user_message(result.reason, result.detail), result)
        return _not_sent(record, description, result)  # Rollout never ran it: another Approve may

    async def _moved(self, record: ApprovalRecord) -> dict[str, Any] | str:
        """The write's arguments for the user's current account, with its person found again there (a person id never
        crosses accounts), or why that could not be done."""
        arguments = {k: v for k, v in tool_arguments(record.arguments).items() if k != "credentialId"}
        named = person_of(arguments)
        if named is None:
            return arguments  # not about a person: nothing ties it to the old account
        key, person_id = named
        seen = contacts_seen(await self._messages(record)).get(person_id, PersonRef(person_id))
        found = await self._crm.refind(record.requester, replace(seen, credential_id=record.arguments["credentialId"]))
        if isinstance(found, PersonRef):
            return {**arguments, key: found.id}
        who = seen.name or "that person"
        return (
            f"The CRM account {who} was found in is no longer connected, and I couldn't tell who {who} is in your "
            "current one — ask me again to pick them there."
        )

    async def _close(self, record: ApprovalRecord, output: str, reply: str) -> None:
        """End the waiting tool_use without asking the model: a cancel needs no answer worth paying for."""
        key = record.conversation
        if key is None:
            return
        async with self._locks.hold(key):
            messages = await self._store.conversations.load(key, max_chars=self._history_chars)
            if find_pending(messages, record.id) is None:
                return
            closing = resolution(messages, record.id, record.summary, output, failed=True)
            assistant = {"role": "assistant", "content": [{"type": "text", "text": reply}]}
            await self._store.conversations.append(key, [closing, assistant])

    # ---- helpers ------------------------------------------------------------------------------------------------

    async def _describe(self, record: ApprovalRecord, arguments: Mapping[str, Any]) -> WriteDescription:
        proposed = proposal_of(record.arguments)
        if proposed is None:  # stored before proposals were kept: names only, from the conversation
            named = person_of(tool_arguments(arguments))
            name = people_seen(await self._messages(record)).get(named[1]) if named else None
            proposed = Proposed(self._capability(record.tool_name), WhoFor(name) if name else None)
        return describe(proposed.capability, record.tool_name, arguments, proposed.who)

    def _capability(self, tool_name: str) -> Capability | None:
        # Only for approvals stored before the proposal's capability was kept with them.
        # Classification looks at names only, so a stub tool with the stored name is enough.
        stub = types.Tool(name=tool_name, input_schema={"type": "object"})
        return next((c for c, name in self._classify([stub]).items() if name == tool_name), None)

    async def _messages(self, record: ApprovalRecord) -> list[Message]:
        if record.conversation is None:
            return []
        return await self._store.conversations.load(record.conversation, max_chars=self._history_chars)


def _output(result: types.CallToolResult) -> str:
    text = parse.result_text(result)
    if not text and result.structured_content:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    return text[:MAX_OUTPUT_CHARS] or "(no output)"


def _not_sent(
    record: ApprovalRecord, description: WriteDescription, problem: CredentialProblem
) -> WriteOutcome[Decided]:
    """Nothing was written: the approval stays approved, and Approve again (after fixing the cause) finishes it."""
    if isinstance(problem, Failure):
        reason = user_message(problem.reason, problem.detail)
    else:
        reason = "Your CRM account needs attention first."
    return WriteOutcome("not_sent", Decided("retry", record, description, result_text=reason, problem=problem))


def _failed(
    record: ApprovalRecord,
    description: WriteDescription,
    reason: str,
    problem: CredentialProblem | None,
    *,
    output: str | None = None,
) -> WriteOutcome[Decided]:
    failed = Decided(
        "failed",
        record,
        description,
        result_text=reason,
        problem=problem,
        tool_output=output or f"The write failed: {reason}",
        tool_failed=True,
    )
    return WriteOutcome("failed", failed, {"ok": False, "reason": reason})
