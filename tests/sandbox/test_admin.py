"""The admin route that changes a person as someone else would in the CRM: token-gated, per subject, and what it
changes is what the overview tool then shows."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from bot.sandbox import ADMIN_CHANGE_PATH, RunningSandbox

GRACE = "grace.hopper@cobol-systems.example"


async def _change(sandbox: RunningSandbox, token: str | None, body: Any) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with httpx2.AsyncClient() as http:
        return await http.post(f"{sandbox.base_url}{ADMIN_CHANGE_PATH}", json=body, headers=headers)


async def _overview(open_session, read_payload, token: str, **arguments: str) -> dict[str, Any]:
    async with open_session(token) as session:
        result = await session.call_tool("get_person_overview", arguments)
    payload: dict[str, Any] = read_payload(result)
    return payload


async def test_setting_fields_shows_in_the_overview(sandbox, mint, subject, open_session, read_payload):
    sandbox.crm.set_accounts(subject, ["hubspot"])
    token = mint(subject)

    response = await _change(sandbox, token, {"person": GRACE, "set": {"title": "Rear Admiral", "company": ""}})

    assert response.status_code == 200
    answer = response.json()
    assert (answer["person"]["title"], answer["person"]["company"]) == ("Rear Admiral", "")
    assert answer["removed"] is False
    overview = await _overview(open_session, read_payload, token, email=GRACE)
    assert overview["person"] == answer["person"]
    assert (overview["person"]["title"], overview["person"]["company"]) == ("Rear Admiral", "")


async def test_completing_a_task_by_title_or_id_and_adding_a_note_show_in_the_overview(
    sandbox, mint, subject, open_session, read_payload
):
    sandbox.crm.set_accounts(subject, ["hubspot", "pipedrive"])
    token = mint(subject)
    grace = sandbox.crm.find_people(subject, "cred_pipedrive_2", email=GRACE)[0]
    first = sandbox.crm.create_task(subject, "cred_pipedrive_2", person_id=grace.id, title="Send the price lock")
    second = sandbox.crm.create_task(subject, "cred_pipedrive_2", person_id=grace.id, title="Book the demo")

    by_title = await _change(
        sandbox,
        token,
        {"credentialId": "cred_pipedrive_2", "person": grace.id, "completeTask": first.title, "addNote": "Signed."},
    )
    by_id = await _change(
        sandbox, token, {"credentialId": "cred_pipedrive_2", "person": GRACE, "completeTask": second.id}
    )

    assert (by_title.status_code, by_id.status_code) == (200, 200)
    assert by_title.json()["notes"][0]["content"] == "Signed."
    overview = await _overview(open_session, read_payload, token, credentialId="cred_pipedrive_2", personId=grace.id)
    statuses = {t["id"]: t["status"] for t in overview["tasks"]}
    assert (statuses[first.id], statuses[second.id]) == ("completed", "completed")
    assert overview["notes"][0]["content"] == "Signed."
    assert overview["tasks"] == by_id.json()["tasks"]
    # The other account, the one used when none is named, is untouched.
    other = await _overview(open_session, read_payload, token, credentialId="cred_hubspot_1", email=GRACE)
    assert "Signed." not in [n["content"] for n in other["notes"]]


async def test_removing_a_person_makes_the_overview_say_not_found(sandbox, mint, subject, open_session, read_payload):
    sandbox.crm.set_accounts(subject, ["salesforce"])
    token = mint(subject)

    response = await _change(sandbox, token, {"person": GRACE, "remove": True})

    assert response.status_code == 200
    assert (response.json()["removed"], response.json()["person"]["email"]) == (True, GRACE)
    async with open_session(token) as session:
        result = await session.call_tool("get_person_overview", {"email": GRACE})
    assert result.is_error
    assert read_payload(result)["error"] == "not_found"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer forged.token.here", "Basic dXNlcjpwYXNz", "expired"],
)
async def test_without_a_valid_token_nothing_changes(sandbox, mint, subject, authorization):
    sandbox.crm.set_accounts(subject, ["hubspot"])
    headers = {}
    if authorization == "expired":
        headers["Authorization"] = f"Bearer {mint(subject, ttl_seconds=-5)}"
    elif authorization is not None:
        headers["Authorization"] = authorization
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{sandbox.base_url}{ADMIN_CHANGE_PATH}", json={"person": GRACE, "remove": True}, headers=headers
        )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert sandbox.crm.find_people(subject, "cred_hubspot_1", email=GRACE) != []


async def test_one_subject_cannot_change_another_subjects_person(sandbox, mint, subject):
    victim = f"{subject}-victim"
    sandbox.crm.set_accounts(victim, ["hubspot"])
    sandbox.crm.set_accounts(subject, ["hubspot"])
    grace = sandbox.crm.find_people(victim, "cred_hubspot_1", email=GRACE)[0]
    title = grace.title

    response = await _change(sandbox, mint(subject), {"person": grace.id, "set": {"title": "Intern"}})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert sandbox.crm.person(victim, "cred_hubspot_1", grace.id).title == title


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"person": GRACE}, 400),  # nothing to do
        ({"person": GRACE, "set": {}}, 400),
        ({"person": GRACE, "remove": False}, 400),
        ({"set": {"title": "CEO"}}, 400),  # no person
        ({"person": GRACE, "set": {"email": "x@example.com"}}, 400),
        ({"person": GRACE, "set": {"title": 3}}, 400),
        ({"person": GRACE, "remove": "yes"}, 400),
        ({"person": GRACE, "remove": True, "addNote": "bye"}, 400),
        ({"person": GRACE, "addNote": "  "}, 400),
        ({"person": GRACE, "titel": "CEO"}, 400),
        (["person", GRACE], 400),
        ({"person": "nobody@example.com", "set": {"title": "CEO"}}, 404),
        ({"person": "per_missing", "set": {"title": "CEO"}}, 404),
        ({"person": GRACE, "credentialId": "cred_nowhere_9", "set": {"title": "CEO"}}, 404),
        ({"person": GRACE, "completeTask": "No such task", "set": {"title": "CEO"}}, 404),
    ],
)
async def test_a_refused_change_changes_nothing(sandbox, mint, subject, body, status):
    sandbox.crm.set_accounts(subject, ["hubspot"])
    before = sandbox.crm.find_people(subject, "cred_hubspot_1", email=GRACE)[0].to_wire()

    response = await _change(sandbox, mint(subject), body)

    assert response.status_code == status
    assert response.json()["error"]["message"]
    assert sandbox.crm.find_people(subject, "cred_hubspot_1", email=GRACE)[0].to_wire() == before


async def test_a_body_that_is_not_json_is_refused(sandbox, mint, subject):
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{sandbox.base_url}{ADMIN_CHANGE_PATH}",
            content=b"title=CEO",
            headers={"Authorization": f"Bearer {mint(subject)}"},
        )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


async def test_without_accounts_there_is_no_one_to_change(sandbox, mint, subject):
    sandbox.crm.set_accounts(subject, [])

    response = await _change(sandbox, mint(subject), {"person": GRACE, "set": {"title": "CEO"}})

    assert response.status_code == 404


async def test_the_route_is_not_counted_as_mcp_traffic(fresh_sandbox, mint, subject):
    response = await _change(fresh_sandbox, mint(subject), {"person": GRACE, "set": {"stage": "Won"}})

    assert response.status_code == 200
    assert fresh_sandbox.stats.http_requests == 0
