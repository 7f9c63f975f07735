"""Approvals always reach an end: a failed or interrupted Approve can be finished, once; an expired one never writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.agent.results import Decided
from bot.identity import SlackUser
from bot.store import ConversationKey
from tests.scenarios import AgentRig, propose_task


async def _approve(rig: AgentRig, approval_id: str, user: SlackUser, now: datetime | None = None) -> Decided:
    return await rig.agent.approvals.decide(approval_id, user, approve=True, now=now)


async def test_approve_again_after_rollout_was_unreachable_writes_once(rig: AgentRig) -> None:
    user, thread = rig.user(), rig.thread()
    proposed = await propose_task(rig, user, thread, title="Send the contract")
    assert proposed.approval is not None
    approval_id = proposed.approval.record.id
    before = len(rig.tasks(user, "Ada Lovelace"))

    await rig.services.pool.close()  # no warm session: the write can't even start while Rollout is down
    rig.sandbox.set_failure("500")
    try:
        failed = await _approve(rig, approval_id, user)
    finally:
        rig.sandbox.set_failure(None)
    assert failed.status == "retry" and failed.result_text
    assert len(rig.tasks(user, "Ada Lovelace")) == before

    done = await _approve(rig, approval_id, user)
    assert done.status == "done"
    assert (await _approve(rig, approval_id, user)).status == "already_done"
    titles = [task.title for task in rig.tasks(user, "Ada Lovelace")]
    assert titles.count("Send the contract") == 1 and len(titles) == before + 1


async def test_cancel_still_works_after_a_failed_approve(rig: AgentRig) -> None:
    user, thread = rig.user(), rig.thread()
    proposed = await propose_task(rig, user, thread)
    assert proposed.approval is not None
    before = len(rig.tasks(user, "Ada Lovelace"))
    await rig.services.pool.close()
    rig.sandbox.set_failure("500")
    try:
        assert (await _approve(rig, proposed.approval.record.id, user)).status == "retry"
    finally:
        rig.sandbox.set_failure(None)

    cancelled = await rig.agent.approvals.decide(proposed.approval.record.id, user, approve=False)

    assert cancelled.status == "cancelled"
    assert (await _approve(rig, proposed.approval.record.id, user)).status == "already_done"
    assert len(rig.tasks(user, "Ada Lovelace")) == before


async def test_an_approved_write_whose_approval_expired_never_runs(rig: AgentRig) -> None:
    user, thread = rig.user(), rig.thread()
    proposed = await propose_task(rig, user, thread)
    assert proposed.approval is not None
    record = proposed.approval.record
    before = len(rig.tasks(user, "Ada Lovelace"))
    # A process approved it and died before writing; the user comes back a day later.
    assert await rig.services.store.approvals.transition(
        record.id, from_status="pending", to_status="approved", now=datetime.now(UTC)
    )
    a_day_later = record.expires_at + timedelta(days=1)

    decided = await _approve(rig, record.id, user, now=a_day_later)

    assert decided.status == "expired"
    assert len(rig.tasks(user, "Ada Lovelace")) == before
    stored = await rig.services.store.approvals.get(record.id)
    assert stored is not None and stored.status == "expired"


async def test_two_clicks_racing_on_an_approved_write_send_it_once(rig: AgentRig) -> None:
    user, thread = rig.user(), rig.thread()
    proposed = await propose_task(rig, user, thread, title="Book the demo")
    assert proposed.approval is not None
    record = proposed.approval.record
    assert await rig.services.store.approvals.transition(
        record.id, from_status="pending", to_status="approved", now=datetime.now(UTC)
    )

    first, second = await asyncio.gather(_approve(rig, record.id, user), _approve(rig, record.id, user))

    loser = second if first.status == "done" else first
    assert "done" in (first.status, second.status)
    # The other click finds the write under way, or finished if it read the approval only after that.
    assert loser.status in ("in_progress", "already_done")
    assert [task.title for task in rig.tasks(user, "Ada Lovelace")].count("Book the demo") == 1


async def test_a_click_reads_only_the_recent_history_it_can_use(rig: AgentRig, monkeypatch: pytest.MonkeyPatch) -> None:
    user, thread = rig.user(), rig.thread()
    proposed = await propose_task(rig, user, thread)
    assert proposed.approval is not None
    reads: list[int | None] = []
    load = rig.services.store.conversations.load

    async def recording(key: ConversationKey, *, max_chars: int | None = None) -> list[dict[str, Any]]:
        reads.append(max_chars)
        return await load(key, max_chars=max_chars)

    monkeypatch.setattr(rig.services.store.conversations, "load", recording)
    assert (await _approve(rig, proposed.approval.record.id, user)).status == "done"
    # Never the whole conversation, however long it has grown (the card itself is rebuilt from what the proposal kept).
    assert None not in reads
