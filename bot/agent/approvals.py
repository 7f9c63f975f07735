"""Approve / Edit / Cancel on a write the model proposed. Only the requester decides; one compare-and-set decides once.

Nothing the model reads can write: a write tool runs here, and only after the requester's click moved the approval
from pending to approved in the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import mcp_types as types

from bot.agent.history import Message
from bot.agent.results import Decided, Edited
from bot.agent.threads import ConversationLocks, find_pending, resolution
from bot.agent.toolset import Classify
from bot.agent.writes import (
    WriteDescription,
    apply_edits,
    contacts_seen,
    describe,
    editable_fields,
    people_seen,
    person_of,
)
from bot.blocks.messages import user_message
from bot.commands import PersonRef
from bot.crm import CrmService
from bot.identity import SlackUser
from bot.rollout import parse
from bot.rollout.outcomes import ChooseCredential, ConnectNeeded, Failure, FailureReason
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

    # ---- reading ------------------------------------------------------------------------------------------------

    async def describe(self, record: ApprovalRecord) -> WriteDescription:
        """The card's words, rebuilt from what is stored (names of people the conversation looked up included)."""
        return describe(
            self._capability(record.tool_name),
            record.tool_name,
            record.arguments,
            people_seen(await self._messages(record)),
        )

    async def _agent_approval(self, approval_id: str) -> ApprovalRecord | None:
        """An approval the agent proposed. A saved-thread card (bot/threads.py) shares the table, not these buttons."""
        record = await self._store.approvals.get(approval_id)
        return None if record is None or record.tool_name == THREAD_SAVE_TOOL else record

    async def edit_form(self, approval_id: str, actor: SlackUser) -> Edited | dict[str, str]:
        """The fields to prefill the edit modal with, or why this person can't edit it."""
        record = await self._agent_approval(approval_id)
        refusal = self._refusal(record, actor, datetime.now(UTC))
        if refusal is not None:
            return refusal
        assert record is not None
        return editable_fields(record.arguments)

    # ---- deciding -----------------------------------------------------------------------------------------------

    async def edit(
        self, approval_id: str, actor: SlackUser, edits: Mapping[str, str], *, now: datetime | None = None
    ) -> Edited:
        record = await self._agent_approval(approval_id)
        refusal = self._refusal(record, actor, now or datetime.now(UTC))
        if refusal is not None:
            return refusal
        assert record is not None
        arguments = apply_edits(record.arguments, edits)
        people = people_seen(await self._messages(record))
        description = describe(self._capability(record.tool_name), record.tool_name, arguments, people)
        if not await self._store.approvals.update_arguments(record.id, arguments, description.summary):
            return Edited("already_done", record)
        updated = await self._store.approvals.get(record.id)
        return Edited("saved", updated, description)

    async def decide(
        self, approval_id: str, actor: SlackUser, *, approve: bool, now: datetime | None = None
    ) -> Decided:
        """Every click decides afresh from the stored state, so a click after a crash or a failure can finish the job.

        Clicks are not de-duplicated: the status compare-and-set decides who approves or cancels, and the write claim
        (on the approval itself, never pruned) decides who writes. Nothing writes once the approval has expired.
        """
        now = now or datetime.now(UTC)
        record = await self._agent_approval(approval_id)
        if record is None:
            return Decided("missing")
        if record.requester != actor:
            return Decided("not_yours", record)
        if record.status == "expired":
            return Decided("expired", record, await self.describe(record))
        if record.status not in ("pending", "approved"):
            return Decided("already_done", record)
        if record.write_started:
            return Decided("in_progress", record)
        if record.expires_at <= now:
            return await self._expire(record, now)
        if not approve:
            if not await self._store.approvals.transition(
                record.id, from_status=record.status, to_status="cancelled", now=now
            ):
                return await self._lost_race(record, now)
            await self._close(record, CANCELLED_OUTPUT, CANCELLED_REPLY)
            return Decided("cancelled", record, await self.describe(record))
        if record.status == "pending" and not await self._store.approvals.transition(
            record.id, from_status="pending", to_status="approved", now=now
        ):
            return await self._lost_race(record, now)
        # Approved now, or approved by a click whose process died or whose write could not be sent: write it.
        return await self._write(record, now)

    async def _lost_race(self, record: ApprovalRecord, now: datetime) -> Decided:
        """Another click changed the approval between our read and our compare-and-set: say what it is now."""
        current = await self._store.approvals.get(record.id) or record
        if current.status == "pending" and current.expires_at <= now:  # the CAS refused it as expired
            return await self._expire(current, now)
        if current.status == "approved" and current.write_started:
            return Decided("in_progress", current)
        return Decided("already_done", current)

    async def _write(self, record: ApprovalRecord, now: datetime) -> Decided:
        """Send the approved write once: the claim is taken just before Rollout is called, so a process that dies
        before it leaves the write to the next click, and one that dies after it never lets it be sent twice."""
        description = await self.describe(record)
        user = record.requester
        tools = await self._crm.tools(user)
        tool = None if isinstance(tools, Failure) else next((t for t in tools if t.name == record.tool_name), None)
        if tool is None:
            problem = tools if isinstance(tools, Failure) else Failure(FailureReason.TOOL_MISSING)
            return await self._not_sent(record, description, problem)
        if not await self._store.approvals.claim_write(record.id, now):
            return await self._lost_race(record, now)
        result = await self._crm.call_tool(user, tool, dict(record.arguments), is_write=True)
        gone = isinstance(result, Failure) and result.reason is FailureReason.CREDENTIAL_GONE
        if gone and record.arguments.get("credentialId"):
            moved = await self._moved(record)
            if isinstance(moved, str):  # the person isn't (clearly) in the user's current account: nothing was written
                return await self._failed(record, description, moved, None)
            result = await self._crm.call_tool(user, tool, moved, is_write=True)
        if isinstance(result, types.CallToolResult) and not result.is_error:
            output = _output(result)
            await self._store.approvals.set_result(record.id, {"ok": True})
            await self._store.approvals.transition(record.id, from_status="approved", to_status="done", now=_now())
            await self._crm.record_activity(user, f"Approved: {record.summary}")
            done = await self._store.approvals.get(record.id)
            return Decided("done", done or record, description, tool_output=output)
        if isinstance(result, types.CallToolResult):  # the CRM refused it: its words help the user fix the input
            reason = parse.scrub(_output(result))
            return await self._failed(record, description, reason, None, output=_output(result))
        if isinstance(result, Failure) and result.reason is FailureReason.WRITE_UNCONFIRMED:
            # It may have been written: never send it again, say so.
            reason = user_message(result.reason, result.detail)
            return await self._failed(record, description, reason, result)
        await self._store.approvals.release_write(record.id)  # Rollout never ran it: another Approve may
        return await self._not_sent(record, description, result)

    async def _moved(self, record: ApprovalRecord) -> dict[str, Any] | str:
        """The write's arguments for the user's current account, with its person found again there (a person id never
        crosses accounts), or why that could not be done."""
        arguments = {k: v for k, v in record.arguments.items() if k != "credentialId"}
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

    async def _not_sent(
        self, record: ApprovalRecord, description: WriteDescription, problem: ChooseCredential | ConnectNeeded | Failure
    ) -> Decided:
        """Nothing was written: the approval stays approved, and Approve again (after fixing the cause) finishes it."""
        if isinstance(problem, Failure):
            reason = user_message(problem.reason, problem.detail)
        else:
            reason = "Your CRM account needs attention first."
        current = await self._store.approvals.get(record.id) or record
        return Decided("retry", current, description, result_text=reason, problem=problem)

    async def _failed(
        self,
        record: ApprovalRecord,
        description: WriteDescription,
        reason: str,
        problem: ChooseCredential | ConnectNeeded | Failure | None,
        *,
        output: str | None = None,
    ) -> Decided:
        await self._store.approvals.set_result(record.id, {"ok": False, "reason": reason})
        await self._store.approvals.transition(record.id, from_status="approved", to_status="failed", now=_now())
        failed = await self._store.approvals.get(record.id)
        return Decided(
            "failed",
            failed or record,
            description,
            result_text=reason,
            problem=problem,
            tool_output=output or f"The write failed: {reason}",
            tool_failed=True,
        )

    async def _expire(self, record: ApprovalRecord, now: datetime) -> Decided:
        if await self._store.approvals.transition(record.id, from_status=record.status, to_status="expired", now=now):
            await self._close(record, EXPIRED_OUTPUT, EXPIRED_REPLY)
        current = await self._store.approvals.get(record.id) or record
        if current.status != "expired":  # a write started meanwhile: its end is what counts
            return await self._lost_race(current, now)
        return Decided("expired", current, await self.describe(record))

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

    def _refusal(self, record: ApprovalRecord | None, actor: SlackUser, now: datetime) -> Edited | None:
        if record is None:
            return Edited("missing")
        if record.requester != actor:
            return Edited("not_yours", record)
        if record.status != "pending":
            return Edited("already_done", record)
        if record.expires_at <= now:
            return Edited("expired", record)
        return None

    def _capability(self, tool_name: str) -> Capability | None:
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


def _now() -> datetime:
    return datetime.now(UTC)
