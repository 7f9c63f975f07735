"""One lifecycle for every write that waits for its requester's click: the agent's proposals and thread saves alike.

An approval is pending until the requester approves or cancels it, or it expires. Every click is checked in one
order: the approval exists and is of the caller's kind, the clicker is its requester, it can still be decided, no
write is under way, and it has not expired (on every path that can write). Then one compare-and-set in the database
decides, and the write claim lets exactly one caller send the write. A write that certainly never reached Rollout
releases its claim and leaves the approval approved: Approve again finishes it. A write that ran, failed, or may
have landed is never sent again. What is written is the caller's: it passes its write in.

Clicks are not de-duplicated by their delivery: a repeated click must be able to finish what a failed one started,
and the compare-and-set and the claim already make the write happen once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from bot.identity import SlackUser
from bot.store import ApprovalRecord
from bot.store.approvals import ApprovalRepository

T = TypeVar("T")

Status = Literal[
    "missing",
    "not_yours",
    "already_done",  # decided before: done, failed or cancelled
    "in_progress",  # its write was sent and has not ended: running now, or its process died mid-call
    "expired",
    "needs_input",  # the caller's write can't run yet (a thread save without a person)
    "edited",
    "cancelled",
    "done",
    "failed",  # the write ran and failed, or may have landed: it is never sent again
    "retry",  # nothing was written; approving again (after fixing the cause) finishes it
]


@dataclass(frozen=True, slots=True)
class WriteOutcome(Generic[T]):
    """What a caller's write did, its own account of it, and what to keep on the approval."""

    ended: Literal["done", "failed", "not_sent"]
    detail: T
    stored: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Decision(Generic[T]):
    status: Status
    record: ApprovalRecord | None = None
    written: T | None = None  # the write's own account, when this click ran it
    changed: bool = False  # this click cancelled or expired it: what follows from that is this caller's to do


Write = Callable[[ApprovalRecord], Awaitable[WriteOutcome[T]]]


class ApprovalLifecycle:
    def __init__(
        self,
        approvals: ApprovalRepository,
        accepts: Callable[[ApprovalRecord], bool],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._approvals = approvals
        self._accepts = accepts  # which approvals this caller's buttons may decide
        self._clock = clock

    async def find(self, approval_id: str, actor: SlackUser) -> ApprovalRecord | Decision[Any]:
        """The approval, when it exists, is of this kind, and `actor` asked for it."""
        record = await self._approvals.get(approval_id)
        if record is None or not self._accepts(record):
            return Decision("missing")
        if record.requester != actor:
            return Decision("not_yours", record)
        return record

    async def decide(
        self,
        approval_id: str,
        actor: SlackUser,
        *,
        approve: bool,
        write: Write[T],
        blocked: Callable[[ApprovalRecord], bool] | None = None,
        now: datetime | None = None,
    ) -> Decision[T]:
        now = now or self._clock()
        found = await self.find(approval_id, actor)
        if isinstance(found, Decision):
            return found
        record = found
        if record.status == "expired":
            return Decision("expired", record)
        if record.status not in ("pending", "approved"):
            return Decision("already_done", record)
        if record.write_started:
            return Decision("in_progress", record)
        if record.expires_at <= now:
            return await self._expire(record, now)
        if not approve:
            if not await self._approvals.transition(
                record.id, from_status=record.status, to_status="cancelled", now=now
            ):
                return await self._lost_race(record, now)
            return Decision("cancelled", await self._current(record), changed=True)
        if blocked is not None and blocked(record):
            return Decision("needs_input", record)
        if record.status == "pending" and not await self._approvals.transition(
            record.id, from_status="pending", to_status="approved", now=now
        ):
            return await self._lost_race(record, now)
        # Approved now, or approved by a click whose process died or whose write never reached Rollout: write it.
        if not await self._approvals.claim_write(record.id, now):
            return await self._lost_race(record, now)
        outcome = await write(await self._current(record))
        if outcome.ended == "not_sent":
            await self._approvals.release_write(record.id)
            return Decision("retry", await self._current(record), outcome.detail)
        if outcome.stored is not None:
            await self._approvals.set_result(record.id, outcome.stored)
        await self._approvals.transition(record.id, from_status="approved", to_status=outcome.ended, now=self._clock())
        return Decision(outcome.ended, await self._current(record), outcome.detail)

    async def revise(
        self,
        approval_id: str,
        actor: SlackUser,
        arguments: dict[str, Any],
        summary: str,
        *,
        now: datetime | None = None,
    ) -> Decision[Any]:
        """Replace what will be written, while its requester has not decided it yet and it has not expired."""
        now = now or self._clock()
        found = await self.find(approval_id, actor)
        if isinstance(found, Decision):
            return found
        if found.status != "pending":
            return Decision("already_done", found)
        if found.expires_at <= now:
            return Decision("expired", found)
        if not await self._approvals.update_arguments(found.id, arguments, summary):
            return Decision("already_done", found)
        return Decision("edited", await self._current(found))

    async def editable(
        self, approval_id: str, actor: SlackUser, *, now: datetime | None = None
    ) -> ApprovalRecord | Decision[Any]:
        """The approval when `actor` may still edit it, else why not."""
        found = await self.find(approval_id, actor)
        if isinstance(found, Decision):
            return found
        if found.status != "pending":
            return Decision("already_done", found)
        if found.expires_at <= (now or self._clock()):
            return Decision("expired", found)
        return found

    async def _lost_race(self, record: ApprovalRecord, now: datetime) -> Decision[T]:
        """Another click changed the approval between our read and our compare-and-set: say what it is now."""
        current = await self._current(record)
        if current.status == "pending" and current.expires_at <= now:  # the compare-and-set refused it as expired
            return await self._expire(current, now)
        if current.status == "approved" and current.write_started:
            return Decision("in_progress", current)
        return Decision("already_done", current)

    async def _expire(self, record: ApprovalRecord, now: datetime) -> Decision[T]:
        changed = await self._approvals.transition(record.id, from_status=record.status, to_status="expired", now=now)
        current = await self._current(record)
        if current.status != "expired":  # a write started meanwhile: its end is what counts
            return await self._lost_race(current, now)
        return Decision("expired", current, changed=changed)

    async def _current(self, record: ApprovalRecord) -> ApprovalRecord:
        return await self._approvals.get(record.id) or record
