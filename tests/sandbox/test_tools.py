"""The five CRM tools through a real MCP client: schemas, credential rules, reads and writes."""

from __future__ import annotations

import re

import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from bot.sandbox import RunningSandbox

TOOLS_WITH_CREDENTIAL_RULES = {
    "get_person_overview": {"query": "ada"},
    "create_person": {"firstName": "Rosa", "email": "rosa@example.com"},
    "create_note": {"personId": "per_missing", "content": "hello"},
    "create_task": {"personId": "per_missing", "title": "Call back"},
}


# ---- schemas ---------------------------------------------------------------------------------------------------


async def test_lists_the_five_tools_with_described_schemas(open_session, mint, subject):
    async with open_session(mint(subject)) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert set(tools) == {"list_credentials", *TOOLS_WITH_CREDENTIAL_RULES}
    for name in TOOLS_WITH_CREDENTIAL_RULES:
        properties = tools[name].input_schema["properties"]
        assert "credentialId" in properties, name
        assert "credentialId" not in tools[name].input_schema.get("required", []), name
        assert all(prop.get("description") for prop in properties.values()), name
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40
    assert set(tools["create_person"].input_schema["required"]) == {"firstName", "email"}
    assert set(tools["create_note"].input_schema["required"]) == {"personId", "content"}
    assert set(tools["create_task"].input_schema["required"]) == {"personId", "title"}
    assert set(tools["get_person_overview"].input_schema["properties"]) == {
        "credentialId",
        "personId",
        "email",
        "query",
    }


# ---- credential rules ------------------------------------------------------------------------------------------


async def test_list_credentials_is_empty_not_an_error_without_accounts(
    sandbox, open_session, mint, subject, read_payload
):
    sandbox.crm.set_accounts(subject, [])
    async with open_session(mint(subject)) as session:
        result = await session.call_tool("list_credentials", {})

    assert not result.is_error
    assert read_payload(result) == {"credentials": []}
    assert result.structured_content == {"credentials": []}


async def test_list_credentials_lists_every_account(sandbox, open_session, mint, subject, read_payload):
    sandbox.crm.set_accounts(subject, ["hubspot", "salesforce"])
    async with open_session(mint(subject)) as session:
        result = await session.call_tool("list_credentials", {"credentialId": "ignored"})

    assert read_payload(result) == {
        "credentials": [
            {"id": "cred_hubspot_1", "appKey": "hubspot", "label": "HubSpot", "isValid": True},
            {"id": "cred_salesforce_2", "appKey": "salesforce", "label": "Salesforce", "isValid": True},
        ]
    }


async def test_without_accounts_every_tool_links_to_the_credentials_page(
    sandbox: RunningSandbox, open_session, mint, subject, read_payload
):
    sandbox.crm.set_accounts(subject, [])
    token = mint(subject)
    async with open_session(token) as session:
        results = {tool: await session.call_tool(tool, args) for tool, args in TOOLS_WITH_CREDENTIAL_RULES.items()}

    link = f"{sandbox.base_url}/mcp/credentials/{token}"
    for tool, result in results.items():
        assert result.is_error, tool
        assert read_payload(result) == {
            "error": "no_credentials",
            "message": f"No CRM is connected for this user. Connect one at {link}",
            "credentialsUrl": link,
        }, tool


async def test_with_several_accounts_every_tool_wants_a_credential_chosen(
    sandbox, open_session, mint, subject, read_payload
):
    sandbox.crm.set_accounts(subject, ["hubspot", "salesforce"])
    async with open_session(mint(subject)) as session:
        results = {tool: await session.call_tool(tool, args) for tool, args in TOOLS_WITH_CREDENTIAL_RULES.items()}

    for tool, result in results.items():
        assert result.is_error, tool
        assert read_payload(result) == {
            "error": "credential_required",
            "message": "Multiple valid credentials found. Provide credentialId to choose one.",
            "credentials": [
                {"id": "cred_hubspot_1", "appKey": "hubspot", "label": "HubSpot"},
                {"id": "cred_salesforce_2", "appKey": "salesforce", "label": "Salesforce"},
            ],
        }, tool


async def test_every_tool_rejects_an_unknown_credential(sandbox, open_session, mint, subject, read_payload):
    sandbox.crm.set_accounts(subject, ["hubspot", "salesforce"])
    async with open_session(mint(subject)) as session:
        results = {
            tool: await session.call_tool(tool, {**args, "credentialId": "cred_pipedrive_9"})
            for tool, args in TOOLS_WITH_CREDENTIAL_RULES.items()
        }

    for tool, result in results.items():
        assert result.is_error, tool
        error = read_payload(result)
        assert error["error"] == "invalid_credential", tool
        assert error["message"], tool


async def test_a_chosen_credential_selects_that_account(sandbox, open_session, mint, subject, read_payload):
    sandbox.crm.set_accounts(subject, ["hubspot", "salesforce"])
    async with open_session(mint(subject)) as session:
        result = await session.call_tool(
            "get_person_overview", {"credentialId": "cred_salesforce_2", "email": "grace.hopper@cobol-systems.example"}
        )

    overview = read_payload(result)
    assert overview["credential"] == {"id": "cred_salesforce_2", "appKey": "salesforce", "label": "Salesforce"}
    assert overview["person"]["url"].startswith("https://acme.lightning.salesforce.example/")


async def test_the_link_carries_the_token_of_the_current_request(sandbox, mint, subject, read_payload):
    """A client that renews its token mid-session must get links with the new one."""
    sandbox.crm.set_accounts(subject, [])
    first, renewed = mint(subject, ttl_seconds=600), mint(subject, ttl_seconds=900)
    assert first != renewed
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {first}"}) as http,
        streamable_http_client(sandbox.url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        http.headers["Authorization"] = f"Bearer {renewed}"
        result = await session.call_tool("get_person_overview", {"query": "ada"})

    assert read_payload(result)["credentialsUrl"].endswith(f"/mcp/credentials/{renewed}")


# ---- get_person_overview ---------------------------------------------------------------------------------------


async def test_overview_of_a_single_match(open_session, mint, subject, read_payload):
    async with open_session(mint(subject)) as session:
        result = await session.call_tool("get_person_overview", {"query": "GRACE hop"})

    assert not result.is_error
    overview = read_payload(result)
    assert result.structured_content == overview
    person = overview["person"]
    assert set(person) == {
        "id", "firstName", "lastName", "name", "email", "title", "company", "phone", "owner", "stage",
        "lastActivityAt", "url",
    }  # fmt: skip
    assert person["name"] == "Grace Hopper"
    assert re.fullmatch(r"per_[0-9a-f]{16}", person["id"])
    assert person["url"] == f"https://app.hubspot.example/contacts/{person['id']}"
    created = [note["createdAt"] for note in overview["notes"]]
    assert len(created) == 3
    assert created == sorted(created, reverse=True)
    assert {"id", "content", "createdAt", "author"} == set(overview["notes"][0])
    assert [task["status"] for task in overview["tasks"]] == ["open", "open"]
    assert {"id", "title", "dueDate", "status", "description"} == set(overview["tasks"][0])
    assert overview["credential"] == {"id": "cred_hubspot_1", "appKey": "hubspot", "label": "HubSpot"}


async def test_overview_by_id_and_by_email_find_the_same_person(open_session, mint, subject, read_payload):
    async with open_session(mint(subject)) as session:
        by_email = read_payload(
            await session.call_tool("get_person_overview", {"email": "Ada.Lovelace@analytical-engines.example"})
        )
        by_id = read_payload(await session.call_tool("get_person_overview", {"personId": by_email["person"]["id"]}))

    assert by_email["person"]["name"] == "Ada Lovelace"
    assert by_id == by_email


async def test_overview_with_several_matches_lists_them(open_session, mint, subject, read_payload):
    async with open_session(mint(subject)) as session:
        result = await session.call_tool("get_person_overview", {"query": "ada"})

    assert not result.is_error
    matches = read_payload(result)["matches"]
    assert [m["name"] for m in matches] == ["Ada Byron", "Ada Lovelace"]
    assert set(matches[0]) == {"id", "name", "email", "title", "company"}


async def test_overview_without_a_match_is_not_found(open_session, mint, subject, read_payload):
    async with open_session(mint(subject)) as session:
        result = await session.call_tool("get_person_overview", {"query": "Nobody Atall"})

    assert result.is_error
    assert read_payload(result) == {"error": "not_found", "message": "No person matches 'Nobody Atall'."}


async def test_overview_needs_a_criterion(open_session, mint, subject, read_payload):
    async with open_session(mint(subject)) as session:
        result = await session.call_tool("get_person_overview", {"query": "  "})

    assert result.is_error
    assert read_payload(result)["error"] == "invalid_input"


async def test_hostile_text_comes_back_verbatim(open_session, mint, subject, read_payload):
    async with open_session(mint(subject)) as session:
        overview = read_payload(await session.call_tool("get_person_overview", {"query": "bobby"}))

    person = overview["person"]
    assert {"*", "<", "&"} <= set(person["lastName"] + person["company"] + person["title"])
    assert any("<!channel>" in note["content"] and len(note["content"]) > 500 for note in overview["notes"])


# ---- writes ----------------------------------------------------------------------------------------------------


async def test_a_created_person_can_be_looked_up(open_session, mint, subject, read_payload):
    fields = {
        "firstName": "Rosa",
        "lastName": "Parks",
        "email": "rosa.parks@montgomery.example",
        "title": "Organizer",
        "company": "Montgomery Improvement",
        "phone": "+1 334 555 0100",
    }
    async with open_session(mint(subject)) as session:
        created = await session.call_tool("create_person", fields)
        overview = read_payload(await session.call_tool("get_person_overview", {"query": "rosa"}))

    assert not created.is_error
    person = read_payload(created)["person"]
    assert person["name"] == "Rosa Parks"
    assert overview["person"] == person
    assert overview["notes"] == [] and overview["tasks"] == []


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"firstName": "Ada", "email": "ada.lovelace@analytical-engines.example"}, "conflict"),
        ({"firstName": "Ada", "email": "not-an-email"}, "invalid_input"),
        ({"firstName": "  ", "email": "blank@example.com"}, "invalid_input"),
    ],
)
async def test_create_person_refuses_bad_input(open_session, mint, subject, read_payload, arguments, code):
    async with open_session(mint(subject)) as session:
        result = await session.call_tool("create_person", arguments)

    assert result.is_error
    error = read_payload(result)
    assert error["error"] == code
    assert error["message"]


async def test_a_created_note_shows_first_in_the_overview(open_session, mint, subject, read_payload):
    async with open_session(mint(subject)) as session:
        person = read_payload(await session.call_tool("get_person_overview", {"query": "grace"}))["person"]
        created = await session.call_tool("create_note", {"personId": person["id"], "content": "Called *twice* & <ok>"})
        overview = read_payload(await session.call_tool("get_person_overview", {"personId": person["id"]}))

    note = read_payload(created)["note"]
    assert set(note) == {"id", "personId", "content", "createdAt"}
    assert note["personId"] == person["id"]
    assert note["content"] == "Called *twice* & <ok>"
    assert overview["notes"][0]["id"] == note["id"]
    assert len(overview["notes"]) == 4


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"personId": "per_missing", "content": "hi"}, "not_found"),
        ({"personId": "", "content": "   "}, "invalid_input"),
    ],
)
async def test_create_note_refuses_bad_input(open_session, mint, subject, read_payload, arguments, code):
    async with open_session(mint(subject)) as session:
        result = await session.call_tool("create_note", arguments)

    assert result.is_error
    assert read_payload(result)["error"] == code


async def test_a_created_task_shows_in_the_overview(open_session, mint, subject, read_payload):
    async with open_session(mint(subject)) as session:
        person = read_payload(await session.call_tool("get_person_overview", {"query": "byron"}))["person"]
        created = await session.call_tool(
            "create_task",
            {"personId": person["id"], "title": "Send case study", "dueDate": "2026-12-01", "description": "Logistics"},
        )
        overview = read_payload(await session.call_tool("get_person_overview", {"personId": person["id"]}))

    task = read_payload(created)["task"]
    assert task == {
        "id": task["id"],
        "personId": person["id"],
        "title": "Send case study",
        "dueDate": "2026-12-01",
        "status": "open",
        "description": "Logistics",
    }
    assert re.fullmatch(r"task_[0-9a-f]{16}", task["id"])
    assert [t["id"] for t in overview["tasks"]] == [task["id"]]


@pytest.mark.parametrize("due_date", ["2026-13-01", "tomorrow", "20261201", "2026-02-30"])
async def test_create_task_validates_the_due_date(open_session, mint, subject, read_payload, due_date):
    async with open_session(mint(subject)) as session:
        person = read_payload(await session.call_tool("get_person_overview", {"query": "byron"}))["person"]
        result = await session.call_tool("create_task", {"personId": person["id"], "title": "x", "dueDate": due_date})

    assert result.is_error
    assert read_payload(result)["error"] == "invalid_input"


# ---- isolation -------------------------------------------------------------------------------------------------


async def test_writes_stay_in_the_callers_own_account(sandbox, open_session, mint, subject, read_payload):
    other = f"{subject}-other"
    sandbox.crm.set_accounts(subject, ["hubspot", "salesforce"])
    async with open_session(mint(subject)) as session:
        await session.call_tool(
            "create_person", {"credentialId": "cred_salesforce_2", "firstName": "Only", "email": "only@sf.example"}
        )
        in_hubspot = await session.call_tool(
            "get_person_overview", {"credentialId": "cred_hubspot_1", "email": "only@sf.example"}
        )
    async with open_session(mint(other)) as session:
        in_other_subject = await session.call_tool("get_person_overview", {"email": "only@sf.example"})
        others_ada = read_payload(await session.call_tool("get_person_overview", {"query": "lovelace"}))["person"]

    assert read_payload(in_hubspot)["error"] == "not_found"
    assert read_payload(in_other_subject)["error"] == "not_found"
    assert [p.email for p in sandbox.crm.people(subject, "cred_salesforce_2")].count("only@sf.example") == 1
    own_ada = next(p for p in sandbox.crm.people(subject, "cred_hubspot_1") if p.last_name == "Lovelace")
    assert others_ada["id"] != own_ada.id  # ids are per account, so a mixed-up id can never hit another user's data
