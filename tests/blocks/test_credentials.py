from __future__ import annotations

import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.blocks import check_dms_message, connect_dm, credential_picker, credentials_list
from bot.ids import Action
from bot.rollout.outcomes import Credential

from . import slack_checks as check
from .strategies import FAST, credentials, ids

HUBSPOT = Credential("cred_hubspot_1", "hubspot", "Acme HubSpot")
SALESFORCE = Credential("cred_sf_1", "salesforce", "Acme Salesforce")
LINK = "https://connect.rollout.example/credentials?token=eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJzbGFjay0xIn0.c2lnbmF0dXJl"


def test_credential_picker_has_one_choose_button_per_account_carrying_the_parked_request() -> None:
    blocks = check.message(credential_picker([HUBSPOT, SALESFORCE], "req_7"))

    assert blocks[0]["text"]["text"] == "*Pick which CRM account to use*"
    buttons = check.by_action(blocks, Action.CREDENTIAL_CHOOSE)
    assert [json.loads(button["value"]) for button in buttons] == [
        {"c": "cred_hubspot_1", "r": "req_7"},
        {"c": "cred_sf_1", "r": "req_7"},
    ]
    text = check.all_text(blocks)
    assert "Acme HubSpot · hubspot" in text and "Acme Salesforce · salesforce" in text
    assert "It becomes your default; change it with `/rollout credentials`" in text


def test_credential_picker_without_parked_request() -> None:
    blocks = check.message(credential_picker([HUBSPOT], None))
    assert json.loads(check.by_action(blocks, Action.CREDENTIAL_CHOOSE)[0]["value"]) == {"c": "cred_hubspot_1"}


@FAST
@given(accounts=st.lists(credentials, max_size=12), parked=st.none() | ids)
def test_credential_picker_is_valid_for_hostile_data(accounts: list[Credential], parked: str | None) -> None:
    blocks = check.message(credential_picker(accounts, parked))
    for button in check.by_action(blocks, Action.CREDENTIAL_CHOOSE):
        assert json.loads(button["value"])["c"] in {account.id for account in accounts}


def test_credentials_list_marks_the_default_and_offers_make_default_for_the_others() -> None:
    blocks = check.message(credentials_list([HUBSPOT, SALESFORCE], "cred_sf_1"))

    text = check.all_text(blocks)
    assert "*Acme Salesforce · salesforce*  ✅ Default" in text
    [make_default] = check.by_action(blocks, Action.CREDENTIAL_MAKE_DEFAULT)
    assert json.loads(make_default["value"]) == {"c": "cred_hubspot_1"}


def test_long_account_lists_stay_within_the_block_limit() -> None:
    accounts = [Credential(f"cred_{n}", "hubspot", f"Account {n}") for n in range(80)]
    for blocks in (
        check.message(credentials_list(accounts, "cred_0")),
        check.message(credential_picker(accounts, None)),
    ):
        assert "…and 35 more." in check.all_text(blocks)


def test_credentials_list_when_nothing_is_connected() -> None:
    blocks = check.message(credentials_list([], None))
    assert check.all_text(blocks) == "No CRM connected yet — `/rollout connect`"


@FAST
@given(accounts=st.lists(credentials, max_size=12), default=st.none() | ids)
def test_credentials_list_is_valid_for_hostile_data(accounts: list[Credential], default: str | None) -> None:
    check.message(credentials_list(accounts, default))


def test_connect_dm_has_the_link_only_as_the_button_url_and_a_retry_button() -> None:
    blocks = check.message(connect_dm(LINK, "req_7"))

    [connect] = check.by_action(blocks, Action.CONNECT_OPEN)
    assert connect["url"] == LINK and "value" not in connect
    [retry] = check.by_action(blocks, Action.CONNECT_RETRY)
    assert json.loads(retry["value"]) == {"r": "req_7"}
    assert [path for path, text in check.strings(blocks) if "token" in text] == [(1, "elements", 0, "url")]


def test_connect_dm_without_parked_request_has_no_retry() -> None:
    blocks = check.message(connect_dm(LINK, None))
    assert check.by_action(blocks, Action.CONNECT_RETRY) == []
    assert "Try again" not in check.all_text(blocks)


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "https://x.example/a b", "https://x.example/" + "a" * 3000, "not a url"]
)
def test_connect_dm_refuses_a_bad_link_without_echoing_it(link: str) -> None:
    with pytest.raises(ValueError, match="connect link") as raised:
        connect_dm(link, None)
    assert link not in str(raised.value)


token_text = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=24, max_size=1000)


# Parked ids drawn from other characters, so a token can only turn up where the link went.
parked_ids = st.none() | st.text(alphabet="!#%:é😀 <>&", min_size=1, max_size=40)


@FAST
@given(token=token_text, parked=parked_ids)
def test_connect_dm_never_puts_the_link_in_any_text(token: str, parked: str | None) -> None:
    link = f"https://connect.rollout.example/c?token={token}"
    blocks = check.message(connect_dm(link, parked))

    [connect] = check.by_action(blocks, Action.CONNECT_OPEN)
    assert connect["url"] == link
    holders = [path for path, text in check.strings(blocks) if token in text or "rollout.example" in text]
    assert len(holders) == 1 and holders[0][-1] == "url"


def test_the_check_your_dms_message_says_the_link_went_to_a_dm() -> None:
    blocks = check.message(check_dms_message())
    assert check.all_text(blocks) == "Connect a CRM first — I've sent you a link in a DM."
