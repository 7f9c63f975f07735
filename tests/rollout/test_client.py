"""RolloutClient and its session pool against the sandbox: tokens, retries, pooling, credential rules, faults."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import sqlalchemy as sa

from bot.identity import SlackUser
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
)
from bot.rollout.tools import Capability
from tests.sandboxes import CLIENT_ID, CLIENT_SECRET, Rig, make_rig

ALICE = SlackUser("T1", "UALICE")
BOB = SlackUser("T1", "UBOB")
ALICE_OTHER_TEAM = SlackUser("T2", "UALICE")


async def test_token_is_hs512_with_issuer_subject_and_ttl(rig: Rig) -> None:
    issued = await rig.tokens.current(ALICE)
    claims = jwt.decode(issued.token, CLIENT_SECRET, algorithms=["HS512"])
    assert claims["iss"] == CLIENT_ID
    assert claims["sub"] == ALICE.default_subject
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert jwt.get_unverified_header(issued.token)["alg"] == "HS512"


async def test_token_is_reused_until_close_to_expiry_then_renewed(rig: Rig) -> None:
    first = await rig.tokens.current(ALICE)
    rig.clock.advance(timedelta(minutes=5))
    assert (await rig.tokens.current(ALICE)).token == first.token
    rig.clock.advance(timedelta(minutes=8))  # 2 minutes left: inside the renewal margin
    renewed = await rig.tokens.current(ALICE)
    assert renewed.token != first.token
    assert renewed.expires_at > first.expires_at


async def test_users_get_distinct_subjects_across_users_and_teams(rig: Rig) -> None:
    subjects = set()
    for user in (ALICE, BOB, ALICE_OTHER_TEAM):
        token = (await rig.tokens.current(user)).token
        subjects.add(jwt.decode(token, CLIENT_SECRET, algorithms=["HS512"])["sub"])
    assert len(subjects) == 3


async def test_token_is_encrypted_at_rest(rig: Rig) -> None:
    token = (await rig.tokens.current(ALICE)).token
    # Raw rows, as someone holding the database file sees them.
    async with rig.store._database.engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT * FROM users"))).all()
    assert rows
    assert all(token not in str(value) for row in rows for value in row)


async def test_an_overview_of_one_match_is_that_person_in_their_crm_account(rig: Rig) -> None:
    found = await rig.client.person_overview(ALICE, query="Ada Lovelace")
    assert isinstance(found, PersonOverview)
    assert found.person.name == "Ada Lovelace"
    assert found.person.email and "@" in found.person.email
    assert found.credential is not None and found.credential.provider


async def test_overview_several_and_none(rig: Rig) -> None:
    several = await rig.client.person_overview(ALICE, query="ada")
    assert isinstance(several, Matches)
    assert {p.name for p in several.people} >= {"Ada Lovelace", "Ada Byron"}
    missing = await rig.client.person_overview(ALICE, query="zz-nobody-zz")
    assert missing == NotFound("zz-nobody-zz")


async def test_warm_session_costs_one_http_request_per_call(rig: Rig) -> None:
    await rig.client.person_overview(ALICE, query="Ada Lovelace")  # opens the session
    rig.sandbox.stats.reset()
    before = rig.pool.stats.http_requests
    for _ in range(5):
        assert isinstance(await rig.client.person_overview(ALICE, query="Ada Lovelace"), PersonOverview)
    assert rig.pool.stats.http_requests - before == 5
    assert rig.sandbox.stats.initializations == 0
    assert rig.pool.stats.sessions_opened == 1


async def test_concurrent_first_calls_share_one_session(rig: Rig) -> None:
    results = await asyncio.gather(*(rig.client.list_credentials(ALICE) for _ in range(8)))
    assert all(isinstance(r, Credentials) for r in results)
    assert rig.pool.stats.sessions_opened == 1
    # One handshake or one discover, whichever the era has.
    assert rig.sandbox.stats.initializations + rig.sandbox.stats.discovers == 1


async def test_rejected_token_is_renewed_and_the_request_retried_once(rig: Rig) -> None:
    # A token the sandbox refuses (signed by someone else) sits in the store, as after a secret rotation.
    forged = jwt.encode(
        {
            "iss": CLIENT_ID,
            "sub": ALICE.default_subject,
            "iat": rig.clock.now,
            "exp": rig.clock.now + timedelta(minutes=15),
        },
        "not-the-secret-" + "x" * 64,
        algorithm="HS512",
    )
    await rig.store.users.get_or_create(ALICE)
    await rig.store.users.save_token(ALICE, forged, rig.clock.now + timedelta(minutes=15))
    found = await rig.client.person_overview(ALICE, query="Ada Lovelace")
    assert isinstance(found, PersonOverview)
    stored = await rig.store.users.load_token(ALICE)
    assert stored is not None and stored.token != forged


async def test_token_rejected_for_good_is_reported_not_retried_forever(sandbox_of_each_era, store) -> None:
    wrong = make_rig(sandbox_of_each_era, store, secret="a-wrong-client-secret-" + "y" * 64)
    try:
        outcome = await wrong.client.person_overview(ALICE, query="Ada")
        assert outcome == Failure(FailureReason.TOKEN_REJECTED)
        assert wrong.pool.stats.by_method.get("POST", 0) <= 4  # initialize + one renewal retry, twice at most
    finally:
        await wrong.pool.close()


async def test_several_credentials_require_a_choice(rig: Rig) -> None:
    rig.sandbox.crm.set_accounts(BOB.default_subject, ["hubspot", "salesforce"])
    outcome = await rig.client.person_overview(BOB, query="Ada Lovelace")
    assert isinstance(outcome, ChooseCredential)
    assert {c.provider for c in outcome.credentials} == {"hubspot", "salesforce"}
    chosen = outcome.credentials[1]
    found = await rig.client.person_overview(BOB, query="Ada Lovelace", credential_id=chosen.id)
    assert isinstance(found, PersonOverview)
    assert found.credential is not None and found.credential.id == chosen.id


async def test_no_credential_means_connect_without_passing_on_the_link_from_the_result(rig: Rig) -> None:
    rig.sandbox.crm.set_accounts(BOB.default_subject, [])
    outcome = await rig.client.person_overview(BOB, query="Ada")
    # The bot builds the link itself from a fresh token (CrmService.connect_link), never from a tool result.
    assert outcome == ConnectNeeded()


async def test_writes_stay_with_their_user(rig: Rig) -> None:
    alice_found = await rig.client.person_overview(ALICE, query="Ada Lovelace")
    assert isinstance(alice_found, PersonOverview)
    created = await rig.client.create_note(ALICE, person_id=alice_found.person.id, content="Only Alice sees this")
    assert isinstance(created, Created) and created.kind == "note"
    bob_found = await rig.client.person_overview(BOB, query="Ada Lovelace")
    assert isinstance(bob_found, PersonOverview)
    assert all("Only Alice" not in n.content for n in bob_found.person.notes)
    again = await rig.client.person_overview(ALICE, query="Ada Lovelace")
    assert isinstance(again, PersonOverview)
    assert any(n.content == "Only Alice sees this" for n in again.person.notes)


async def test_create_task_and_person(rig: Rig) -> None:
    found = await rig.client.person_overview(ALICE, query="Ada Lovelace")
    assert isinstance(found, PersonOverview)
    task = await rig.client.create_task(ALICE, person_id=found.person.id, title="Call Ada", due_date="2026-12-01")
    assert isinstance(task, Created) and "2026-12-01" in task.summary
    person = await rig.client.create_person(ALICE, first_name="Grace", last_name="Hopper", email="grace@navy.example")
    assert isinstance(person, Created) and person.person_id
    bad = await rig.client.create_person(ALICE, first_name="No", last_name=None, email="not-an-email")
    assert isinstance(bad, Failure) and bad.reason is FailureReason.INVALID_INPUT and bad.detail


async def test_rollout_down_is_unreachable(rig: Rig) -> None:
    rig.sandbox.set_failure("500")
    outcome = await rig.client.list_credentials(ALICE)
    assert outcome == Failure(FailureReason.UNREACHABLE)


async def test_server_errors_on_an_open_session_are_reported(rig: Rig) -> None:
    assert isinstance(await rig.client.list_credentials(ALICE), Credentials)
    rig.sandbox.set_failure("500")
    outcome = await rig.client.list_credentials(ALICE)
    assert isinstance(outcome, Failure)
    assert outcome.reason in {FailureReason.SERVER_ERROR, FailureReason.UNREACHABLE}
    rig.sandbox.set_failure(None)
    assert isinstance(await rig.client.list_credentials(ALICE), Credentials)


async def test_slow_rollout_times_out(sandbox_of_each_era, store) -> None:
    quick = make_rig(sandbox_of_each_era, store, timeout=0.5)
    try:
        assert isinstance(await quick.client.list_credentials(ALICE), Credentials)
        sandbox_of_each_era.set_latency(2.0)
        assert await quick.client.list_credentials(ALICE) == Failure(FailureReason.TIMEOUT)
    finally:
        sandbox_of_each_era.set_latency(0.0)
        await quick.pool.close()


async def test_dropped_connection_mid_session_reconnects_for_reads(rig: Rig) -> None:
    assert isinstance(await rig.client.list_credentials(ALICE), Credentials)
    rig.sandbox.set_failure("drop")
    dropped = await rig.client.list_credentials(ALICE)
    assert isinstance(dropped, Failure)
    rig.sandbox.set_failure(None)
    assert isinstance(await rig.client.list_credentials(ALICE), Credentials)


async def test_pool_is_bounded_and_evicts_least_recently_used(sandbox_of_each_era, store) -> None:
    small = make_rig(sandbox_of_each_era, store, max_sessions=2)
    try:
        users = [SlackUser("T1", f"U{i}") for i in range(5)]
        for user in users:
            assert isinstance(await small.client.list_credentials(user), Credentials)
        assert len(small.pool) == 2
        assert small.pool.stats.sessions_opened == 5
    finally:
        await small.pool.close()


async def test_tool_names_come_from_settings_when_given(sandbox_of_each_era, store) -> None:
    renamed = make_rig(sandbox_of_each_era, store, tool_names={Capability.LIST_CREDENTIALS: "no_such_tool"})
    try:
        assert await renamed.client.list_credentials(ALICE) == Failure(FailureReason.TOOL_MISSING)
        assert isinstance(await renamed.client.person_overview(ALICE, query="Ada Lovelace"), PersonOverview)
    finally:
        await renamed.pool.close()
