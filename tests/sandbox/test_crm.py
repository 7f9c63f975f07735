"""The in-memory CRM on its own: deterministic seeding, accounts per subject, ordering."""

from __future__ import annotations

import pytest

from bot.sandbox import SandboxCrm


def _snapshot(crm: SandboxCrm, subject: str) -> list[object]:
    snapshot: list[object] = []
    for account in crm.accounts(subject):
        for person in crm.people(subject, account.id):
            snapshot += [
                account,
                person.to_wire(),
                crm.notes_of(subject, account.id, person.id),
                crm.tasks_of(subject, account.id, person.id),
            ]
    return snapshot


def test_the_same_seed_gives_the_same_data():
    first, second = SandboxCrm(accounts_per_new_subject=2, seed=7), SandboxCrm(accounts_per_new_subject=2, seed=7)

    assert _snapshot(first, "alice") == _snapshot(second, "alice")
    assert len(first.people("alice", "cred_hubspot_1")) >= 12


def test_another_seed_or_subject_gives_other_ids_for_the_same_people():
    base = SandboxCrm(seed=7).people("alice", "cred_hubspot_1")
    other_seed = SandboxCrm(seed=8).people("alice", "cred_hubspot_1")
    other_subject = SandboxCrm(seed=7).people("bob", "cred_hubspot_1")

    assert [p.name for p in base] == [p.name for p in other_seed] == [p.name for p in other_subject]
    assert not {p.id for p in base} & {p.id for p in other_seed}
    assert not {p.id for p in base} & {p.id for p in other_subject}


def test_the_cast_includes_namesakes_and_hostile_text():
    people = SandboxCrm().people("alice", "cred_hubspot_1")

    assert len([p for p in people if p.first_name == "Ada"]) >= 2
    assert any({"*", "<", "&"} <= set(p.name + p.title + p.company) and len(p.title) > 100 for p in people)


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, []), (1, ["cred_hubspot_1"]), (2, ["cred_hubspot_1", "cred_salesforce_2"])],
)
def test_new_subjects_get_the_configured_number_of_accounts(count, expected):
    crm = SandboxCrm(accounts_per_new_subject=count)

    assert [a.id for a in crm.accounts("alice")] == expected


def test_connect_adds_numbered_accounts_and_set_accounts_replaces_them():
    crm = SandboxCrm(accounts_per_new_subject=0)

    first = crm.connect("alice", "hubspot")
    second = crm.connect("alice", "hubspot")
    crm.set_accounts("bob", ["pipedrive"])

    assert (first.id, first.label) == ("cred_hubspot_1", "HubSpot")
    assert (second.id, second.label) == ("cred_hubspot_2", "HubSpot 2")
    assert [a.id for a in crm.accounts("bob")] == ["cred_pipedrive_1"]
    crm.set_accounts("alice", [])
    assert crm.accounts("alice") == []
    with pytest.raises(ValueError, match="unknown provider"):
        crm.connect("alice", "dynamics")


def test_new_notes_come_first():
    crm = SandboxCrm()
    grace = next(p for p in crm.people("alice", "cred_hubspot_1") if p.first_name == "Grace")

    one = crm.create_note("alice", "cred_hubspot_1", person_id=grace.id, content="one")
    two = crm.create_note("alice", "cred_hubspot_1", person_id=grace.id, content="two")

    assert [n.id for n in crm.notes_of("alice", "cred_hubspot_1", grace.id)[:2]] == [two.id, one.id]
