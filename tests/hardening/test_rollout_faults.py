"""Rollout misbehaving, seen through Slack: down, slow, 5xx, expired or never-accepted tokens, dropped sessions.

Each test drives the running app with signed requests and checks what the user is told, and in the sandbox CRM that
nothing was lost or written twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from bench.fakes import Call
from bot.blocks import fields
from bot.blocks.messages import USER_MESSAGES
from bot.identity import SlackUser
from bot.ids import Action
from bot.rollout.outcomes import FailureReason
from tests.harness import ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET, AppHarness

ADA = "ada.lovelace@analytical-engines.example"
# Everywhere the app can put a message for the user.
USER_FACING = ("response_url", "chat.postEphemeral", "chat.postMessage", "chat.update")


def told(harness: AppHarness, *, since: int = 0) -> list[Call]:
    """What the app sent the user after `since`, in order."""
    return [call for call in harness.slack.calls[since:] if call.method in USER_FACING and call.ok]


async def card(harness: AppHarness, user: SlackUser) -> Call:
    mark = harness.slack.mark()
    await harness.command(user, f"overview {ADA}")
    return await harness.slack.wait_for("response_url", lambda call: call.contains("Ada Lovelace"), since=mark)


async def note_modal(harness: AppHarness, user: SlackUser, shown: Call) -> Call:
    mark = harness.slack.mark()
    await harness.click(user, shown, Action.PERSON_ADD_NOTE)
    return await harness.slack.wait_for("views.open", since=mark)


# ---- Rollout down ----------------------------------------------------------------------------------------------


async def test_rollout_down_tells_the_user_once_and_writes_nothing(rollout_down_app: AppHarness) -> None:
    harness = rollout_down_app
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))

    sent = await harness.command(user, f"note {ADA} Called about the renewal")
    await harness.settle()

    assert sent.status == 200
    (answer,) = told(harness)
    assert answer.method == "response_url" and answer.args["response_type"] == "ephemeral"
    assert answer.text == USER_MESSAGES[FailureReason.UNREACHABLE]
    assert len(harness.crm_notes(user, ada)) == before
    assert harness.sandbox.stats.http_requests == 0  # nothing reached any Rollout


# ---- slower than the timeout ---------------------------------------------------------------------------------


async def test_a_read_slower_than_the_timeout_is_reported_and_the_next_one_works(quick_app: AppHarness) -> None:
    harness = quick_app
    user = harness.new_user()
    await card(harness, user)  # the user's session is open and warm
    harness.sandbox.set_latency(2.0)
    mark = harness.slack.mark()

    await harness.command(user, f"overview {ADA}")
    await harness.settle()

    (answer,) = told(harness, since=mark)
    assert answer.args["response_type"] == "ephemeral"
    assert answer.text == USER_MESSAGES[FailureReason.TIMEOUT]
    harness.sandbox.set_latency(0)
    assert (await card(harness, user)).contains("Ada Lovelace")


async def test_a_write_slower_than_the_timeout_is_reported_once_and_never_sent_again(quick_app: AppHarness) -> None:
    harness = quick_app
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    modal = await note_modal(harness, user, await card(harness, user))
    harness.sandbox.set_latency(2.0)
    calls_before = harness.services.pool.stats.tool_calls
    mark = harness.slack.mark()

    await harness.submit(user, modal, {fields.NOTE_TEXT: "Sent the order form"})
    await harness.settle()

    (answer,) = told(harness, since=mark)
    assert answer.text == USER_MESSAGES[FailureReason.WRITE_UNCONFIRMED]  # it may have landed: check, don't resend
    # It may still land on Rollout's side, so the app must not send it again: at most one note, ever.
    assert harness.services.pool.stats.tool_calls - calls_before == 1
    assert len(harness.crm_notes(user, ada)) <= before + 1


async def test_a_timed_out_write_does_not_invite_a_blind_retry(quick_app: AppHarness) -> None:
    """After a write timed out the user cannot know whether it was saved; "try again" may write it twice."""
    harness = quick_app
    user = harness.new_user()
    modal = await note_modal(harness, user, await card(harness, user))
    harness.sandbox.set_latency(2.0)
    mark = harness.slack.mark()

    await harness.submit(user, modal, {fields.NOTE_TEXT: "Renewal signed"})
    await harness.settle()

    (answer,) = told(harness, since=mark)
    assert "check" in answer.text.lower(), f"a timed-out write should say it may have been saved: {answer.text!r}"


# ---- 5xx ---------------------------------------------------------------------------------------------------------


async def test_a_5xx_on_a_write_is_reported_writes_nothing_and_the_next_attempt_writes_once(
    app_harness: AppHarness,
) -> None:
    harness = app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    shown = await card(harness, user)
    failing = await note_modal(harness, user, shown)
    harness.sandbox.set_failure("500")
    mark = harness.slack.mark()

    await harness.submit(user, failing, {fields.NOTE_TEXT: "Asked for a discount"})
    await harness.settle()

    (answer,) = told(harness, since=mark)
    friendly = {USER_MESSAGES[FailureReason.SERVER_ERROR], USER_MESSAGES[FailureReason.UNREACHABLE]}
    assert answer.text in friendly
    assert len(harness.crm_notes(user, ada)) == before
    harness.sandbox.set_failure(None)
    retry = await note_modal(harness, user, shown)
    await harness.submit(user, retry, {fields.NOTE_TEXT: "Asked for a discount"})
    await harness.settle()
    assert [n.content for n in harness.crm_notes(user, ada)].count("Asked for a discount") == 1


# ---- tokens --------------------------------------------------------------------------------------------------------


async def test_an_expired_token_is_renewed_once_and_the_command_still_answers(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    await card(harness, user)
    # The stored token says it has ten minutes left, but Rollout's clock says it expired (skew, a suspended laptop).
    now = datetime.now(UTC)
    claims = {"iss": ROLLOUT_CLIENT_ID, "sub": user.default_subject, "iat": now - timedelta(minutes=20)}
    expired = jwt.encode({**claims, "exp": now - timedelta(minutes=5)}, ROLLOUT_CLIENT_SECRET, algorithm="HS512")
    await harness.services.store.users.save_token(user, expired, now + timedelta(minutes=10))
    harness.services.tokens.forget(user)  # the process reads it, as one that has not kept a token of its own would
    requests_before = harness.services.pool.stats.http_requests

    shown = await card(harness, user)

    assert shown.contains("Ada Lovelace")
    assert harness.services.pool.stats.http_requests - requests_before == 2  # refused once, renewed, sent again
    stored = await harness.services.store.users.load_token(user)
    assert stored is not None and stored.token != expired
    assert jwt.decode(stored.token, ROLLOUT_CLIENT_SECRET, algorithms=["HS512"], issuer=ROLLOUT_CLIENT_ID)


async def test_a_client_secret_rollout_never_accepts_tells_the_user_and_does_not_retry_forever(
    wrong_secret_app: AppHarness,
) -> None:
    harness = wrong_secret_app
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    requests_before = harness.sandbox.stats.http_requests

    await harness.command(user, f"note {ADA} Called about the renewal")
    await harness.settle()

    (answer,) = told(harness)
    assert answer.args["response_type"] == "ephemeral"
    assert answer.text == USER_MESSAGES[FailureReason.TOKEN_REJECTED]
    assert "reconnect" in answer.text or "admin" in answer.text
    assert len(harness.crm_notes(user, ada)) == before
    # One connection attempt and one renewal, twice at most; no session ever opened.
    assert harness.sandbox.stats.http_requests - requests_before <= 4
    assert harness.sandbox.stats.initializations == 0


async def test_a_client_secret_rollout_never_accepts_is_logged_for_the_admin(
    wrong_secret_app: AppHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """Users can only be told to reconnect; fixing ROLLOUT_CLIENT_SECRET is the admin's job, so the log must say."""
    harness = wrong_secret_app
    user = harness.new_user()
    caplog.set_level(logging.WARNING)

    await harness.command(user, f"overview {ADA}")
    await harness.settle()

    assert told(harness), "the user heard back"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith(("bot.", "handlers."))]
    assert warnings, "nothing at WARNING or above tells the admin that Rollout refuses the app's tokens"


# ---- the session dropped mid-call ----------------------------------------------------------------------------------


async def test_a_dropped_session_is_reported_then_reconnected_and_nothing_is_written_twice(
    app_harness: AppHarness,
) -> None:
    harness = app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    shown = await card(harness, user)
    dropped = await note_modal(harness, user, shown)
    opened_before = harness.services.pool.stats.sessions_opened
    harness.sandbox.set_failure("drop")
    mark = harness.slack.mark()

    await harness.submit(user, dropped, {fields.NOTE_TEXT: "Moved to legal review"})
    await harness.settle()

    (answer,) = told(harness, since=mark)
    # The connection dropped after the write was sent: we can't know whether it landed, so the user is told to check.
    assert answer.text == USER_MESSAGES[FailureReason.WRITE_UNCONFIRMED]
    assert len(harness.crm_notes(user, ada)) == before
    harness.sandbox.set_failure(None)
    again = await note_modal(harness, user, await card(harness, user))
    await harness.submit(user, again, {fields.NOTE_TEXT: "Moved to legal review"})
    await harness.settle()
    assert [n.content for n in harness.crm_notes(user, ada)].count("Moved to legal review") == 1
    assert harness.services.pool.stats.sessions_opened > opened_before  # a new session replaced the dropped one
