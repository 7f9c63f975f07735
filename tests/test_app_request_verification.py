"""Only Slack's signed, fresh requests reach the handlers; anything else is refused before any work is done."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from tests.harness import AppHarness, sign

ADA = "ada.lovelace@analytical-engines.example"


def _command_body(user_id: str, text: str, response_url: str = "http://127.0.0.1:9/never-used") -> str:
    return urlencode(
        {
            "command": "/rollout",
            "text": text,
            "team_id": "T0HARNESS",
            "user_id": user_id,
            "channel_id": "C0HARNESS",
            "trigger_id": "1.2.3",
            "response_url": response_url,
        }
    )


async def test_a_bad_signature_is_refused_with_401_and_nothing_runs(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    ada = app_harness.crm_person(user, ADA)
    before = len(app_harness.crm_notes(user, ada))
    body = _command_body(user.user_id, f"note {ADA} Forged")

    sent = await app_harness.send(body, "application/x-www-form-urlencoded", signature="v0=" + "0" * 64)
    await app_harness.settle()

    assert sent.status == 401
    assert app_harness.slack.calls == []
    assert len(app_harness.crm_notes(user, ada)) == before


async def test_a_signature_over_another_body_is_refused(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    stamp = str(int(time.time()))
    signed_for_help = sign(_command_body(user.user_id, "help"), stamp)

    sent = await app_harness.send(
        _command_body(user.user_id, f"overview {ADA}"),
        "application/x-www-form-urlencoded",
        timestamp=int(stamp),
        signature=signed_for_help,
    )
    await app_harness.settle()

    assert sent.status == 401 and app_harness.slack.calls == []


async def test_a_correctly_signed_request_older_than_five_minutes_is_refused(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    stale = int(time.time()) - 6 * 60

    sent = await app_harness.send(
        _command_body(user.user_id, f"overview {ADA}"), "application/x-www-form-urlencoded", timestamp=stale
    )
    await app_harness.settle()

    assert sent.status == 401 and app_harness.slack.calls == []


async def test_a_fresh_correctly_signed_request_is_served(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    body = _command_body(user.user_id, "help", app_harness.slack.new_response_url())

    sent = await app_harness.send(body, "application/x-www-form-urlencoded")

    assert sent.status == 200
    help_text = await app_harness.slack.wait_for("response_url")
    assert help_text.contains("/rollout overview")
