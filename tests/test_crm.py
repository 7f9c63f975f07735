"""CrmService: the credential rules every entry point shares, against the sandbox and a SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import jwt
import pytest

from bot.commands import PersonRef
from bot.crm import CrmService
from bot.identity import SlackUser
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Created,
    Credentials,
    Failure,
    FailureReason,
    Matches,
    PersonOverview,
)
from bot.sandbox import RunningSandbox
from bot.store import Store
from tests.sandboxes import Rig, make_rig

SAM = SlackUser("T1", "USAM")


@pytest.fixture
async def rig(sandbox_of_each_era: RunningSandbox, store: Store) -> AsyncIterator[Rig]:
    """The service's Rollout client on a sandbox of each protocol era: every test here runs once per era."""
    built = make_rig(sandbox_of_each_era, store)
    yield built
    await built.pool.close()


@pytest.fixture
def crm(rig: Rig) -> CrmService:
    return CrmService(rig.client, rig.store, rig.tokens, rig.sandbox.url)


def two_accounts(rig: Rig) -> None:
    rig.sandbox.crm.set_accounts(SAM.default_subject, ["hubspot", "salesforce"])


async def test_single_match_becomes_the_card(crm: CrmService) -> None:
    found = await crm.overview(SAM, "lovelace")
    assert isinstance(found, PersonOverview) and found.person.name == "Ada Lovelace"


async def test_a_person_found_by_name_is_found_by_their_email_too(crm: CrmService) -> None:
    found = await crm.overview(SAM, "Ada Lovelace")
    assert isinstance(found, PersonOverview) and found.person.email
    by_email = await crm.overview(SAM, found.person.email)
    assert isinstance(by_email, PersonOverview) and by_email.person.id == found.person.id


async def test_several_matches_stay_a_pick_list(crm: CrmService) -> None:
    assert isinstance(await crm.overview(SAM, "ada"), Matches)


async def test_default_credential_is_injected_once_chosen(crm: CrmService, rig: Rig) -> None:
    two_accounts(rig)
    choose = await crm.overview(SAM, "Ada Lovelace")
    assert isinstance(choose, ChooseCredential) and len(choose.credentials) == 2
    salesforce = next(c for c in choose.credentials if c.provider == "salesforce")
    chosen = await crm.set_default_credential(SAM, salesforce.id)
    assert chosen == Credentials(choose.credentials, salesforce.id)
    found = await crm.overview(SAM, "Ada Lovelace")
    assert isinstance(found, PersonOverview)
    assert found.credential is not None and found.credential.id == salesforce.id


async def test_a_disconnected_default_is_forgotten(crm: CrmService, rig: Rig) -> None:
    two_accounts(rig)
    listed = await crm.credentials(SAM)
    assert isinstance(listed, Credentials)
    await crm.set_default_credential(SAM, listed.credentials[0].id)
    rig.sandbox.crm.set_accounts(SAM.default_subject, ["pipedrive"])  # the default went away in Rollout
    found = await crm.overview(SAM, "Ada Lovelace")
    assert isinstance(found, PersonOverview)
    record = await rig.store.users.get_or_create(SAM)
    assert record.default_credential_id is None


async def test_choosing_an_unknown_credential_is_refused(crm: CrmService) -> None:
    outcome = await crm.set_default_credential(SAM, "cred_forged_1")
    assert outcome == Failure(FailureReason.CREDENTIAL_GONE)


async def test_a_note_goes_to_the_account_the_person_was_found_in(crm: CrmService, rig: Rig) -> None:
    ada = await crm.resolve(SAM, "Ada Lovelace")
    assert isinstance(ada, PersonRef) and ada.credential_id is not None
    created = await crm.add_note(SAM, ada, "Renewal call went well")
    assert isinstance(created, Created)
    assert created.person_name == "Ada Lovelace"
    found = await crm.overview(SAM, "Ada Lovelace")
    assert isinstance(found, PersonOverview)
    assert found.person.notes[0].content == "Renewal call went well"


async def test_an_ambiguous_person_resolves_to_a_pick_list(crm: CrmService) -> None:
    assert isinstance(await crm.resolve(SAM, "ada"), Matches)


async def test_a_write_whose_account_is_gone_finds_the_person_again_by_email(crm: CrmService, rig: Rig) -> None:
    two_accounts(rig)
    hubspot, salesforce = (a.id for a in rig.sandbox.crm.accounts(SAM.default_subject))
    ada = await crm.resolve(SAM, "Ada Lovelace", credential_id=hubspot)
    assert isinstance(ada, PersonRef) and ada.credential_id == hubspot and ada.email
    rig.sandbox.crm.disconnect(SAM.default_subject, hubspot)

    created = await crm.add_note(SAM, ada, "Followed up")

    assert isinstance(created, Created)
    (elsewhere,) = rig.sandbox.crm.find_people(SAM.default_subject, salesforce, email=ada.email)
    assert created.person_id == elsewhere.id != ada.id  # never the id from the other account
    notes = rig.sandbox.crm.notes_of(SAM.default_subject, salesforce, elsewhere.id)
    assert [n.content for n in notes].count("Followed up") == 1


async def test_without_an_email_a_moved_write_asks_who_and_writes_nothing(crm: CrmService, rig: Rig) -> None:
    two_accounts(rig)
    hubspot, salesforce = (a.id for a in rig.sandbox.crm.accounts(SAM.default_subject))
    ada = await crm.resolve(SAM, "Ada Lovelace", credential_id=hubspot)
    assert isinstance(ada, PersonRef)
    rig.sandbox.crm.disconnect(SAM.default_subject, hubspot)
    (elsewhere,) = rig.sandbox.crm.find_people(SAM.default_subject, salesforce, email=ada.email)
    before = len(rig.sandbox.crm.tasks_of(SAM.default_subject, salesforce, elsewhere.id))

    outcome = await crm.create_task(SAM, replace(ada, email=None), "Call")

    assert isinstance(outcome, Matches) and any(p.id == elsewhere.id for p in outcome.people)
    assert len(rig.sandbox.crm.tasks_of(SAM.default_subject, salesforce, elsewhere.id)) == before


async def test_empty_writes_are_refused_before_rollout(crm: CrmService, rig: Rig) -> None:
    before = sum(rig.sandbox.stats.tool_calls.values())
    assert isinstance(await crm.add_note(SAM, PersonRef("per_x"), "   "), Failure)
    assert isinstance(await crm.create_task(SAM, PersonRef("per_x"), ""), Failure)
    bad_email = await crm.create_person(SAM, first_name="A", last_name=None, email="nope")
    assert isinstance(bad_email, Failure) and bad_email.reason is FailureReason.INVALID_INPUT
    assert sum(rig.sandbox.stats.tool_calls.values()) == before


async def test_connect_link_is_rollouts_credential_manager(crm: CrmService, rig: Rig) -> None:
    link = await crm.connect_link(SAM)
    token = (await rig.tokens.current(SAM)).token
    assert link == ConnectNeeded(f"{rig.sandbox.base_url}/mcp/credentials/{token}", valid_minutes=15)


async def test_connect_link_carries_a_token_with_its_whole_lifetime_ahead(crm: CrmService, rig: Rig) -> None:
    old = await rig.tokens.current(SAM)
    rig.clock.advance(timedelta(minutes=11))  # the stored token is still reused for calls: 4 of 15 minutes left
    assert (await rig.tokens.current(SAM)).token == old.token
    link = await crm.connect_link(SAM)
    claims = jwt.decode(link.link.rsplit("/", 1)[1], options={"verify_signature": False})
    assert claims["exp"] == int((rig.clock.now.replace(microsecond=0) + timedelta(minutes=15)).timestamp())


async def test_no_accounts_means_connect(crm: CrmService, rig: Rig) -> None:
    rig.sandbox.crm.set_accounts(SAM.default_subject, [])
    assert isinstance(await crm.credentials(SAM), ConnectNeeded)
    assert isinstance(await crm.overview(SAM, "Ada"), ConnectNeeded)


async def test_successful_writes_are_recorded_for_app_home(crm: CrmService, rig: Rig) -> None:
    ada = await crm.resolve(SAM, "Ada Lovelace")
    assert isinstance(ada, PersonRef)
    await crm.add_note(SAM, ada, "Hello")
    recent = await rig.store.activity.recent(SAM)
    assert recent and "Ada Lovelace" in recent[0].text
