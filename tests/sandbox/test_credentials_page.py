"""The credential manager page: token-gated, private, and connecting an account there makes the tools work."""

from __future__ import annotations

import re

import httpx2

from bot.sandbox import RunningSandbox


def _page_url(sandbox: RunningSandbox, token: str) -> str:
    return f"{sandbox.base_url}/mcp/credentials/{token}"


async def test_the_page_lists_accounts_and_offers_every_crm(sandbox, mint, subject):
    sandbox.crm.set_accounts(subject, ["pipedrive"])
    async with httpx2.AsyncClient() as http:
        response = await http.get(_page_url(sandbox, mint(subject)))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "Pipedrive" in response.text and "cred_pipedrive_1" in response.text
    assert re.findall(r'name="provider" value="(\w+)"', response.text) == ["hubspot", "salesforce", "pipedrive"]
    assert not re.search(r"<script|<link|src=", response.text)  # self-contained: no external assets


async def test_the_page_with_a_bad_or_expired_token_says_the_link_expired(sandbox, mint, subject):
    sandbox.crm.set_accounts(subject, [])
    expired_url = _page_url(sandbox, mint(subject, ttl_seconds=-5))
    async with httpx2.AsyncClient() as http:
        responses = [
            await http.get(expired_url),
            await http.post(expired_url, data={"provider": "hubspot"}),
            await http.get(_page_url(sandbox, "forged.token.here")),
        ]

    for response in responses:
        assert response.status_code == 401
        assert "This link has expired. Ask the bot for a new one." in response.text
        assert response.headers["cache-control"] == "no-store"
    assert sandbox.crm.accounts(subject) == []


async def test_connecting_on_the_page_makes_the_tools_work(sandbox, mint, subject, open_session, read_payload):
    sandbox.crm.set_accounts(subject, [])
    token = mint(subject)
    async with httpx2.AsyncClient() as http:
        posted = await http.post(_page_url(sandbox, token), data={"provider": "salesforce"})
        page = await http.get(_page_url(sandbox, token))

    assert posted.status_code == 303
    assert posted.headers["location"] == f"/mcp/credentials/{token}"
    assert posted.headers["referrer-policy"] == "no-referrer"
    assert "cred_salesforce_1" in page.text
    async with open_session(token) as session:
        result = await session.call_tool("get_person_overview", {"query": "hopper"})
    assert read_payload(result)["credential"]["id"] == "cred_salesforce_1"


async def test_an_unknown_crm_is_refused(sandbox, mint, subject):
    sandbox.crm.set_accounts(subject, [])
    async with httpx2.AsyncClient() as http:
        response = await http.post(_page_url(sandbox, mint(subject)), data={"provider": "<script>"})

    assert response.status_code == 400
    assert "<script>" not in response.text
    assert sandbox.crm.accounts(subject) == []
