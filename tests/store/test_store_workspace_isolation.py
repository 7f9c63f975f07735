"""The same Slack user id in two workspaces is two people: nothing of one reaches the other."""

from __future__ import annotations

import uuid
from datetime import timedelta

from bot.identity import SlackUser
from bot.store import ConversationKey, Store
from bot.store.schema import utc_now


def _twins() -> tuple[SlackUser, SlackUser]:
    user_id = f"U{uuid.uuid4().hex[:10].upper()}"
    return SlackUser(f"TA{uuid.uuid4().hex[:8].upper()}", user_id), SlackUser(
        f"TB{uuid.uuid4().hex[:8].upper()}", user_id
    )


async def test_same_user_id_in_two_workspaces_shares_nothing(store: Store) -> None:
    mine, twin = _twins()
    assert mine.default_subject != twin.default_subject
    assert (await store.users.get_or_create(mine)).subject != (await store.users.get_or_create(twin)).subject

    await store.users.save_token(mine, "token-of-mine", utc_now() + timedelta(minutes=10))
    await store.users.set_default_credential(mine, "cred-mine")
    assert await store.users.load_token(twin) is None
    assert (await store.users.get_or_create(twin)).default_credential_id is None

    parked = await store.parked.park(mine, {"op": "overview"}, timedelta(hours=1))
    assert await store.parked.take(parked, twin, utc_now()) is None
    assert await store.parked.take(parked, mine, utc_now()) == {"op": "overview"}

    key = ConversationKey(mine.team_id, "D1", "1.000001")
    await store.conversations.append(key, [{"role": "user", "content": "mine"}], user=mine)
    approval = await store.approvals.create(mine, "create_note", {}, "note", key, utc_now() + timedelta(hours=1))
    assert (await store.approvals.get(approval.id)).requester != twin  # the desk refuses a click that isn't theirs

    assert await store.conversations.forget_started_by(twin) == (0, 0)
    forgotten = await store.teams.forget(twin.team_id)
    assert forgotten.users == 1 and forgotten.conversations == 0 and forgotten.approvals_cancelled == 0
    assert await store.users.load_token(mine) is not None
    assert len(await store.conversations.load(key)) == 1
    assert (await store.approvals.get(approval.id)).status == "pending"
