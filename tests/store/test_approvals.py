from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from bot.store import ApprovalRecord, ConversationKey, Store
from bot.store.schema import utc_now

ARGUMENTS = {"person_id": "p-1", "content": "Called Ada — wants a demo"}
CONVERSATION = ConversationKey("T1", "C42", "1716900000.000100")


async def _pending(store: Store, requester, *, expires_in: timedelta = timedelta(minutes=10)) -> ApprovalRecord:
    return await store.approvals.create(
        requester, "create_note", ARGUMENTS, "Add a note to Ada Lovelace", CONVERSATION, utc_now() + expires_in
    )


async def test_a_created_approval_is_pending_and_reads_back_as_created(store: Store, make_user):
    requester = make_user()
    expires_at = utc_now() + timedelta(minutes=10)

    created = await store.approvals.create(requester, "create_note", ARGUMENTS, "Add a note", None, expires_at)

    assert re.fullmatch(r"[0-9a-f]{32}", created.id)
    assert created == ApprovalRecord(
        id=created.id,
        requester=requester,
        tool_name="create_note",
        arguments=ARGUMENTS,
        summary="Add a note",
        status="pending",
        conversation=None,
        channel_id=None,
        message_ts=None,
        expires_at=expires_at,
        result=None,
    )
    assert await store.approvals.get(created.id) == created
    assert "Called Ada" not in repr(created)


async def test_unknown_approval_is_none(store: Store):
    assert await store.approvals.get("0" * 32) is None


async def test_only_one_of_ten_concurrent_approvals_wins(store: Store, make_user):
    approval = await _pending(store, make_user())
    now = utc_now()

    wins = await asyncio.gather(
        *(
            store.approvals.transition(approval.id, from_status="pending", to_status="approved", now=now)
            for _ in range(10)
        )
    )

    assert sorted(wins) == [False] * 9 + [True]
    assert (await store.approvals.get(approval.id)).status == "approved"


async def test_an_expired_approval_cannot_be_approved_but_can_expire(store: Store, make_user):
    approval = await _pending(store, make_user())
    at_expiry = approval.expires_at

    assert not await store.approvals.transition(approval.id, from_status="pending", to_status="approved", now=at_expiry)
    assert (await store.approvals.get(approval.id)).status == "pending"
    assert await store.approvals.transition(approval.id, from_status="pending", to_status="expired", now=at_expiry)
    assert (await store.approvals.get(approval.id)).status == "expired"


async def test_approval_just_before_expiry_succeeds(store: Store, make_user):
    approval = await _pending(store, make_user())
    just_before = approval.expires_at - timedelta(milliseconds=1)

    assert await store.approvals.transition(approval.id, from_status="pending", to_status="approved", now=just_before)


async def test_transition_requires_the_expected_status(store: Store, make_user):
    approval = await _pending(store, make_user())
    now = utc_now()
    assert await store.approvals.transition(approval.id, from_status="pending", to_status="cancelled", now=now)

    assert not await store.approvals.transition(approval.id, from_status="pending", to_status="approved", now=now)
    assert not await store.approvals.transition(approval.id, from_status="approved", to_status="done", now=now)
    assert (await store.approvals.get(approval.id)).status == "cancelled"


async def test_full_lifecycle_with_message_and_result(store: Store, make_user):
    approval = await _pending(store, make_user())
    now = utc_now()

    await store.approvals.set_message(approval.id, "D123", "1716900000.000200")
    assert await store.approvals.transition(approval.id, from_status="pending", to_status="approved", now=now)
    assert await store.approvals.transition(approval.id, from_status="approved", to_status="done", now=now)
    await store.approvals.set_result(approval.id, {"note_id": "n-9", "url": None})

    stored = await store.approvals.get(approval.id)
    assert (stored.status, stored.channel_id, stored.message_ts) == ("done", "D123", "1716900000.000200")
    assert stored.result == {"note_id": "n-9", "url": None}
    assert stored.conversation == CONVERSATION


async def test_unknown_statuses_are_refused(store: Store, make_user):
    approval = await _pending(store, make_user())

    with pytest.raises(ValueError, match="unknown approval status"):
        await store.approvals.transition(approval.id, from_status="pending", to_status="approvd", now=utc_now())


async def test_arguments_change_only_while_pending(store: Store, make_user):
    approval = await _pending(store, make_user())
    edited = {**ARGUMENTS, "content": "Called Ada — demo on Friday"}

    assert await store.approvals.update_arguments(approval.id, edited, "Add an edited note")
    assert await store.approvals.transition(approval.id, from_status="pending", to_status="approved", now=utc_now())
    assert not await store.approvals.update_arguments(approval.id, ARGUMENTS, "too late")

    stored = await store.approvals.get(approval.id)
    assert (stored.arguments, stored.summary) == (edited, "Add an edited note")


# ---- the write claim: each of its conditions alone -------------------------------------------------------------


async def _approved(store: Store, requester) -> ApprovalRecord:
    approval = await _pending(store, requester)
    assert await store.approvals.transition(approval.id, from_status="pending", to_status="approved", now=utc_now())
    return approval


async def test_a_write_is_claimed_once_while_approved_and_unexpired(store: Store, make_user):
    approval = await _approved(store, make_user())
    just_before = approval.expires_at - timedelta(milliseconds=1)

    assert await store.approvals.claim_write(approval.id, just_before)
    assert not await store.approvals.claim_write(approval.id, just_before)  # already started: nobody else writes
    assert (await store.approvals.get(approval.id)).write_started


async def test_a_pending_approval_cannot_be_claimed_for_writing(store: Store, make_user):
    approval = await _pending(store, make_user())

    assert not await store.approvals.claim_write(approval.id, utc_now())
    assert not (await store.approvals.get(approval.id)).write_started


async def test_an_approved_write_cannot_be_claimed_at_its_expiry(store: Store, make_user):
    approval = await _approved(store, make_user())

    assert not await store.approvals.claim_write(approval.id, approval.expires_at)
    assert not (await store.approvals.get(approval.id)).write_started


async def test_a_started_write_can_no_longer_be_cancelled_or_expired(store: Store, make_user):
    started = await _approved(store, make_user())
    assert await store.approvals.claim_write(started.id, utc_now())
    for to_status in ("cancelled", "expired"):
        assert not await store.approvals.transition(
            started.id, from_status="approved", to_status=to_status, now=utc_now()
        )
    assert (await store.approvals.get(started.id)).status == "approved"

    waiting = await _approved(store, make_user())  # approved, but its write never started: cancel still works
    assert await store.approvals.transition(waiting.id, from_status="approved", to_status="cancelled", now=utc_now())
