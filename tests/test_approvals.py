"""The one approval lifecycle: each check on a click, alone, and the write sent once whatever the clicks do."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.approvals import ApprovalLifecycle, Decision, WriteOutcome
from bot.identity import SlackUser
from bot.store import ApprovalRecord, Store

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
KIND = "kind.of.write"
REQUESTER = SlackUser("T1", "U1")


class Writes:
    """A write that records each time it runs and ends as told."""

    def __init__(self, ended: str = "done") -> None:
        self.ended = ended
        self.runs = 0

    async def __call__(self, record: ApprovalRecord) -> WriteOutcome[str]:
        self.runs += 1
        return WriteOutcome(self.ended, f"wrote {record.id}", {"ok": self.ended == "done"})  # type: ignore[arg-type]


def lifecycle(store: Store) -> ApprovalLifecycle:
    return ApprovalLifecycle(store.approvals, accepts=lambda r: r.tool_name == KIND, clock=lambda: NOW)


async def proposed(store: Store, *, tool: str = KIND, expires: datetime = NOW + timedelta(hours=1)) -> ApprovalRecord:
    return await store.approvals.create(REQUESTER, tool, {"title": "Call Ada"}, "Create a task", None, expires)


async def approve(store: Store, record: ApprovalRecord, writes: Writes, **kwargs: object) -> Decision[str]:
    return await lifecycle(store).decide(record.id, REQUESTER, approve=True, write=writes, now=NOW, **kwargs)  # type: ignore[arg-type]


async def test_approve_writes_once_and_a_second_click_finds_it_done(store: Store) -> None:
    record, writes = await proposed(store), Writes()

    first = await approve(store, record, writes)
    second = await approve(store, record, writes)

    assert (first.status, first.written, second.status, writes.runs) == (
        "done",
        f"wrote {record.id}",
        "already_done",
        1,
    )
    stored = await store.approvals.get(record.id)
    assert stored is not None and stored.status == "done" and stored.result == {"ok": True}


async def test_an_approval_of_another_kind_is_missing(store: Store) -> None:
    record, writes = await proposed(store, tool="other.kind"), Writes()
    assert (await approve(store, record, writes)).status == "missing" and writes.runs == 0


async def test_an_unknown_approval_is_missing(store: Store) -> None:
    writes = Writes()
    decided = await lifecycle(store).decide("nope", REQUESTER, approve=True, write=writes, now=NOW)
    assert decided.status == "missing" and writes.runs == 0


async def test_only_the_requester_decides(store: Store) -> None:
    record, writes = await proposed(store), Writes()
    someone = SlackUser(REQUESTER.team_id, "U2")
    same_id_elsewhere = SlackUser("T2", REQUESTER.user_id)
    for actor in (someone, same_id_elsewhere):
        decided = await lifecycle(store).decide(record.id, actor, approve=True, write=writes, now=NOW)
        assert decided.status == "not_yours"
    assert writes.runs == 0


async def test_an_expired_approval_never_writes_even_when_it_was_approved_before(store: Store) -> None:
    for already_approved in (False, True):
        record, writes = await proposed(store), Writes()
        if already_approved:  # a process approved it and died before writing
            await store.approvals.transition(record.id, from_status="pending", to_status="approved", now=NOW)
        later = NOW + timedelta(hours=2)
        decided = await lifecycle(store).decide(record.id, REQUESTER, approve=True, write=writes, now=later)
        assert (decided.status, decided.changed, writes.runs) == ("expired", True, 0)
        again = await lifecycle(store).decide(record.id, REQUESTER, approve=True, write=writes, now=later)
        assert (again.status, again.changed) == ("expired", False)


async def test_expiry_is_exact(store: Store) -> None:
    record, writes = await proposed(store, expires=NOW), Writes()
    assert (await approve(store, record, writes)).status == "expired" and writes.runs == 0


@pytest.mark.parametrize("status", ["done", "failed", "cancelled"])
async def test_a_decided_approval_is_already_done(store: Store, status: str) -> None:
    record, writes = await proposed(store), Writes()
    if status != "cancelled":
        await store.approvals.transition(record.id, from_status="pending", to_status="approved", now=NOW)
    await store.approvals.transition(
        record.id, from_status="approved" if status != "cancelled" else "pending", to_status=status, now=NOW
    )
    assert (await approve(store, record, writes)).status == "already_done" and writes.runs == 0


async def test_a_write_under_way_is_in_progress_and_cannot_be_cancelled(store: Store) -> None:
    record, writes = await proposed(store), Writes()
    await store.approvals.transition(record.id, from_status="pending", to_status="approved", now=NOW)
    assert await store.approvals.claim_write(record.id, NOW)

    assert (await approve(store, record, writes)).status == "in_progress"
    cancel = await lifecycle(store).decide(record.id, REQUESTER, approve=False, write=writes, now=NOW)
    assert cancel.status == "in_progress" and writes.runs == 0


async def test_cancel_writes_nothing_and_says_this_click_did_it(store: Store) -> None:
    record, writes = await proposed(store), Writes()
    first = await lifecycle(store).decide(record.id, REQUESTER, approve=False, write=writes, now=NOW)
    second = await lifecycle(store).decide(record.id, REQUESTER, approve=False, write=writes, now=NOW)
    assert (first.status, first.changed, second.status, writes.runs) == ("cancelled", True, "already_done", 0)


async def test_a_blocked_write_waits_for_input_and_stays_pending(store: Store) -> None:
    record, writes = await proposed(store), Writes()
    decided = await approve(store, record, writes, blocked=lambda r: True)
    assert decided.status == "needs_input" and writes.runs == 0
    stored = await store.approvals.get(record.id)
    assert stored is not None and stored.status == "pending"


async def test_a_write_that_never_reached_the_crm_can_be_approved_again(store: Store) -> None:
    record, writes = await proposed(store), Writes("not_sent")

    assert (await approve(store, record, writes)).status == "retry"
    writes.ended = "done"
    assert (await approve(store, record, writes)).status == "done"
    assert writes.runs == 2


async def test_a_write_that_may_have_landed_is_never_sent_again(store: Store) -> None:
    record, writes = await proposed(store), Writes("failed")

    assert (await approve(store, record, writes)).status == "failed"
    assert (await approve(store, record, writes)).status == "already_done"
    assert writes.runs == 1


async def test_clicks_at_once_write_once(store: Store) -> None:
    record = await proposed(store)
    started, release = asyncio.Event(), asyncio.Event()
    runs = 0

    async def slow(record: ApprovalRecord) -> WriteOutcome[str]:
        nonlocal runs
        runs += 1
        started.set()
        await release.wait()
        return WriteOutcome("done", "ok")

    first = asyncio.create_task(lifecycle(store).decide(record.id, REQUESTER, approve=True, write=slow, now=NOW))
    await asyncio.wait_for(started.wait(), 5)
    others = [
        await lifecycle(store).decide(record.id, REQUESTER, approve=a, write=slow, now=NOW) for a in (True, False)
    ]
    release.set()

    assert (await asyncio.wait_for(first, 5)).status == "done"
    assert [o.status for o in others] == ["in_progress", "in_progress"] and runs == 1


async def test_revise_only_while_pending_and_unexpired(store: Store) -> None:
    cycle = lifecycle(store)
    record = await proposed(store)
    edited = await cycle.revise(record.id, REQUESTER, {"title": "Call Ada today"}, "Create a task")
    assert (
        edited.status == "edited" and edited.record is not None and edited.record.arguments["title"] == "Call Ada today"
    )
    assert (await cycle.revise(record.id, SlackUser("T1", "U2"), {}, "x")).status == "not_yours"

    late = await cycle.revise(record.id, REQUESTER, {}, "x", now=NOW + timedelta(hours=2))
    assert late.status == "expired"

    await approve(store, record, Writes())
    assert (await cycle.revise(record.id, REQUESTER, {}, "x")).status == "already_done"
