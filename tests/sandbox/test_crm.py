"""The in-memory CRM on its own: deterministic seeding, accounts per subject, ordering, changes made by others."""

from __future__ import annotations

import pytest

from bot.sandbox import CrmPerson, SandboxCrm
from bot.sandbox.crm import InvalidInput, NotFound


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


# ---- changes made in the CRM by someone else ------------------------------------------------------------------


def _grace(crm: SandboxCrm) -> CrmPerson:
    return next(p for p in crm.people("alice", "cred_hubspot_1") if p.first_name == "Grace")


def test_update_person_changes_only_the_fields_given_and_bumps_the_last_activity():
    crm = SandboxCrm()
    grace = _grace(crm)
    before = grace.to_wire()

    updated = crm.update_person("alice", "cred_hubspot_1", grace.id, title="Chief Compiler Officer", stage="")

    after = crm.person("alice", "cred_hubspot_1", grace.id).to_wire()
    assert updated.to_wire() == after
    assert (after["title"], after["stage"]) == ("Chief Compiler Officer", "")
    assert (after["company"], after["owner"]) == (before["company"], before["owner"])
    assert after["lastActivityAt"] > before["lastActivityAt"]


def test_update_person_refuses_an_empty_change_an_unknown_person_or_account():
    crm = SandboxCrm()
    grace = _grace(crm)

    with pytest.raises(InvalidInput):
        crm.update_person("alice", "cred_hubspot_1", grace.id)
    with pytest.raises(NotFound, match="No person"):
        crm.update_person("alice", "cred_hubspot_1", "per_missing", title="Chief Compiler Officer")
    with pytest.raises(NotFound, match="No CRM account"):
        crm.update_person("alice", "cred_nowhere_9", grace.id, title="Chief Compiler Officer")
    with pytest.raises(NotFound, match="No person"):  # an id from another subject's account is unknown here
        crm.update_person("bob", "cred_hubspot_1", grace.id, title="Chief Compiler Officer")
    assert crm.person("alice", "cred_hubspot_1", grace.id).title != "Chief Compiler Officer"


def test_complete_task_marks_it_completed_in_place():
    crm = SandboxCrm()
    grace = _grace(crm)
    task = crm.create_task("alice", "cred_hubspot_1", person_id=grace.id, title="Send proposal")
    others = [t for t in crm.tasks_of("alice", "cred_hubspot_1", grace.id) if t.id != task.id]

    completed = crm.complete_task("alice", "cred_hubspot_1", task.id)

    assert (completed.id, completed.status, task.status) == (task.id, "completed", "open")
    tasks = crm.tasks_of("alice", "cred_hubspot_1", grace.id)
    assert [t.id for t in tasks if t.id != task.id] == [t.id for t in others]
    assert next(t for t in tasks if t.id == task.id).status == "completed"
    assert crm.complete_task("alice", "cred_hubspot_1", task.id) == completed
    with pytest.raises(NotFound, match="No task"):
        crm.complete_task("alice", "cred_hubspot_1", "task_missing")
    with pytest.raises(NotFound, match="No CRM account"):
        crm.complete_task("alice", "cred_nowhere_9", task.id)


def test_remove_person_takes_their_notes_and_tasks_with_them():
    crm = SandboxCrm()
    grace = _grace(crm)
    crm.create_note("alice", "cred_hubspot_1", person_id=grace.id, content="hello")
    crm.create_task("alice", "cred_hubspot_1", person_id=grace.id, title="Call")
    count = len(crm.people("alice", "cred_hubspot_1"))

    crm.remove_person("alice", "cred_hubspot_1", grace.id)

    assert len(crm.people("alice", "cred_hubspot_1")) == count - 1
    assert crm.find_people("alice", "cred_hubspot_1", email=grace.email) == []
    assert crm.notes_of("alice", "cred_hubspot_1", grace.id) == []
    assert crm.tasks_of("alice", "cred_hubspot_1", grace.id) == []
    with pytest.raises(NotFound):
        crm.remove_person("alice", "cred_hubspot_1", grace.id)
    with pytest.raises(NotFound, match="No CRM account"):
        crm.remove_person("alice", "cred_nowhere_9", grace.id)


def test_the_existing_methods_still_raise_key_error_for_an_unknown_account():
    with pytest.raises(KeyError):
        SandboxCrm().people("alice", "cred_nowhere_9")
