"""Uninstall and revoked tokens forget exactly one workspace (or one person); `CrmService.disconnect` forgets one
person's token, default account and conversations. Signed events into the running app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from bot.identity import SlackUser
from bot.store import ConversationKey
from bot.store.schema import slack_bots, utc_now
from tests.harness import APP_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


@pytest.fixture(params=["sqlite", "postgresql"])
def harness(request: pytest.FixtureRequest) -> AppHarness:
    name = "app_harness" if request.param == "sqlite" else "postgres_app_harness"
    return request.getfixturevalue(name)


def _team_user(harness: AppHarness, team_id: str) -> SlackUser:
    user = SlackUser(team_id, f"U{uuid.uuid4().hex[:10].upper()}")
    harness.sandbox.crm.set_accounts(user.default_subject, ["hubspot", "salesforce"])
    return user


async def _send_event(harness: AppHarness, team_id: str, event: dict[str, Any]) -> None:
    body = {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}",
        "event_time": int(time.time()),
    }
    sent = await harness.send(json.dumps(body), "application/json")
    assert sent.status == 200
    await harness.settle()


async def _use(harness: AppHarness, user: SlackUser) -> tuple[ConversationKey, str]:
    """A person who used the bot: a token, a default account, a conversation, a parked request, a pending approval."""
    store = harness.services.store
    await harness.command(user, f"overview {ADA}")
    await harness.settle()
    await store.users.set_default_credential(user, harness.crm_account(user, 0))
    key = ConversationKey(user.team_id, f"D{user.user_id}", "1700000000.000100")
    await store.conversations.append(key, [{"role": "user", "content": "hi"}], user=user)
    await store.parked.park(user, {"op": "overview"}, timedelta(hours=1))
    approval = await store.approvals.create(user, "create_note", {}, "note", key, utc_now() + timedelta(hours=1))
    return key, approval.id


async def _state(harness: AppHarness, user: SlackUser, key: ConversationKey, approval_id: str) -> dict[str, Any]:
    store = harness.services.store
    token = await store.users.load_token(user)
    approval = await store.approvals.get(approval_id)
    return {
        "token": token is not None,
        "messages": len(await store.conversations.load(key)),
        "approval": approval.status if approval else None,
    }


async def test_uninstall_forgets_that_workspace_and_nothing_else(harness: AppHarness) -> None:
    gone_team, kept_team = f"TGONE{uuid.uuid4().hex[:6].upper()}", f"TKEPT{uuid.uuid4().hex[:6].upper()}"
    gone, kept = _team_user(harness, gone_team), _team_user(harness, kept_team)
    gone_key, gone_approval = await _use(harness, gone)
    kept_key, kept_approval = await _use(harness, kept)
    before = await _state(harness, kept, kept_key, kept_approval)
    assert before == {"token": True, "messages": 1, "approval": "pending"}
    async with harness.services.store._database.write() as connection:  # an OAuth installation's bot row
        for team in (gone_team, kept_team):
            await connection.execute(
                slack_bots.insert().values(
                    client_id="c",
                    app_id=APP_ID,
                    team_id=team,
                    bot_token="x",
                    installed_at=utc_now().replace(tzinfo=None),
                )
            )

    await _send_event(harness, gone_team, {"type": "app_uninstalled"})

    assert await _state(harness, gone, gone_key, gone_approval) == {
        "token": False,
        "messages": 0,
        "approval": "cancelled",
    }
    assert await _state(harness, kept, kept_key, kept_approval) == before
    assert await harness.services.store.parked.take("unknown", gone, utc_now()) is None
    async with harness.services.store._database.read() as connection:
        teams = {row.team_id for row in (await connection.execute(slack_bots.select())).all()}
    assert kept_team in teams and gone_team not in teams

    # The workspace can come back: the next command starts afresh.
    since = harness.slack.mark()
    await harness.command(gone, f"overview {ADA}")
    await harness.slack.wait_for("response_url", lambda call: "Pick which CRM account" in call.text, since=since)


async def test_revoked_bot_token_forgets_the_workspace(harness: AppHarness) -> None:
    team = f"TREV{uuid.uuid4().hex[:6].upper()}"
    user = _team_user(harness, team)
    key, approval = await _use(harness, user)

    await _send_event(harness, team, {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}})

    assert await _state(harness, user, key, approval) == {"token": False, "messages": 0, "approval": "cancelled"}


async def test_revoked_user_token_forgets_that_person_only(harness: AppHarness) -> None:
    team = f"TONE{uuid.uuid4().hex[:6].upper()}"
    user, teammate = _team_user(harness, team), _team_user(harness, team)
    key, approval = await _use(harness, user)
    other_key, other_approval = await _use(harness, teammate)

    await _send_event(harness, team, {"type": "tokens_revoked", "tokens": {"oauth": [user.user_id]}})

    assert await _state(harness, user, key, approval) == {"token": False, "messages": 0, "approval": "pending"}
    assert (await harness.services.store.users.get_or_create(user)).default_credential_id is None
    assert await _state(harness, teammate, other_key, other_approval) == {
        "token": True,
        "messages": 1,
        "approval": "pending",
    }


async def test_disconnect_says_what_it_deleted(harness: AppHarness) -> None:
    team = f"TDIS{uuid.uuid4().hex[:6].upper()}"
    user, teammate = _team_user(harness, team), _team_user(harness, team)
    key, _ = await _use(harness, user)
    other_key, _ = await _use(harness, teammate)
    # A thread the teammate started and the user joined is the teammate's memory, not the user's.
    await harness.services.store.conversations.append(other_key, [{"role": "user", "content": "me too"}], user=user)

    done = await harness.services.crm.disconnect(user)

    assert (done.token, done.default_account, done.conversations, done.messages) == (True, True, 1, 1)
    assert await harness.services.store.conversations.load(key) == []
    assert len(await harness.services.store.conversations.load(other_key)) == 2
    again = await harness.services.crm.disconnect(user)
    assert not again.anything
    # The next command starts fresh: a new token, and the default account has to be picked again.
    since = harness.slack.mark()
    await harness.command(user, f"overview {ADA}")
    await harness.slack.wait_for("response_url", lambda call: "Pick which CRM account" in call.text, since=since)
    await harness.settle()
    assert await harness.services.store.users.load_token(user) is not None


async def test_uninstall_of_an_org_wide_install_forgets_the_people_keyed_by_the_org(harness: AppHarness) -> None:
    org = f"EORG{uuid.uuid4().hex[:6].upper()}"
    member = _team_user(harness, org)  # under an org-wide install a person's tenant is their organisation
    key, approval = await _use(harness, member)
    body = {
        "token": "legacy-verification-token",
        "enterprise_id": org,
        "api_app_id": APP_ID,
        "event": {"type": "app_uninstalled"},
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": org, "team_id": None, "is_enterprise_install": True, "is_bot": True}],
        "is_enterprise_install": True,
    }

    assert (await harness.send(json.dumps(body), "application/json")).status == 200
    await harness.settle()

    assert await _state(harness, member, key, approval) == {"token": False, "messages": 0, "approval": "cancelled"}
