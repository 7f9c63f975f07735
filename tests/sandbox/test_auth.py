"""Bearer auth on /mcp: only HS512 tokens signed with the client secret, issued by the client id, and unexpired."""

from __future__ import annotations

import httpx2
import pytest

from bot.sandbox import RunningSandbox

WRONG_SECRET = "some-other-secret-" + "fedcba9876543210" * 4


async def _post_initialize(sandbox: RunningSandbox, headers: dict[str, str], body: dict) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(sandbox.url, json=body, headers=headers)


async def test_a_valid_token_is_accepted(sandbox, mint, subject, mcp_headers, initialize_body):
    mcp_headers["Authorization"] = f"Bearer {mint(subject)}"

    response = await _post_initialize(sandbox, mcp_headers, initialize_body)

    assert response.status_code == 200


async def test_a_request_without_a_token_gets_401(sandbox, mcp_headers, initialize_body):
    response = await _post_initialize(sandbox, mcp_headers, initialize_body)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda mint, sub: mint(sub, secret=WRONG_SECRET), id="wrong-signature"),
        pytest.param(lambda mint, sub: mint(sub, ttl_seconds=-60), id="expired"),
        pytest.param(lambda mint, sub: mint(sub, issuer="another-client"), id="wrong-issuer"),
        pytest.param(lambda mint, sub: mint(sub, drop_claims=("sub",)), id="no-subject"),
        pytest.param(lambda mint, sub: mint(sub, drop_claims=("exp",)), id="no-expiry"),
        pytest.param(lambda mint, sub: mint(sub, drop_claims=("iat",)), id="no-issued-at"),
        pytest.param(lambda mint, sub: mint(sub, drop_claims=("iss",)), id="no-issuer"),
        pytest.param(lambda mint, sub: mint(sub, algorithm="HS256"), id="right-secret-wrong-algorithm"),
        pytest.param(lambda mint, sub: "not-a-jwt", id="garbage"),
    ],
)
async def test_a_bad_token_gets_401(sandbox, mint, subject, mcp_headers, initialize_body, make_token):
    mcp_headers["Authorization"] = f"Bearer {make_token(mint, subject)}"

    response = await _post_initialize(sandbox, mcp_headers, initialize_body)

    assert response.status_code == 401
