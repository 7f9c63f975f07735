"""`/rollout disconnect`: the bot forgets what it stores for the user and says exactly what that was."""

from __future__ import annotations

from datetime import date

from bot.commands import Disconnect, parse
from tests.harness import AppHarness

ADA = "ada.lovelace@analytical-engines.example"


def test_disconnect_and_forget_parse() -> None:
    assert parse("disconnect", today=date(2026, 12, 2)) == Disconnect()
    assert parse("forget", today=date(2026, 12, 2)) == Disconnect()


async def test_disconnect_says_what_it_forgot_and_the_next_command_starts_fresh(app_harness: AppHarness) -> None:
    user = app_harness.new_user(accounts=("hubspot", "salesforce"))
    await app_harness.services.crm.set_default_credential(user, app_harness.crm_account(user, 1))
    await app_harness.command(user, f"overview {ADA}")
    await app_harness.settle()
    stored = await app_harness.services.store.users.load_token(user)
    assert stored is not None

    mark = app_harness.slack.mark()
    await app_harness.command(user, "disconnect")
    await app_harness.settle()
    reply = await app_harness.slack.wait_for("response_url", since=mark)
    assert reply.contains("your stored Rollout token") and reply.contains("your default CRM account")
    assert await app_harness.services.store.users.load_token(user) is None
    record = await app_harness.services.store.users.get_or_create(user)
    assert record.default_credential_id is None

    mark = app_harness.slack.mark()
    await app_harness.command(user, "disconnect")
    await app_harness.settle()
    again = await app_harness.slack.wait_for("response_url", since=mark)
    assert again.contains("nothing stored for you")

    mark = app_harness.slack.mark()
    await app_harness.command(user, f"overview {ADA}")  # two accounts and no default any more: Rollout asks which
    await app_harness.settle()
    assert await app_harness.slack.wait_for("response_url", lambda call: call.contains("Pick"), since=mark)


async def test_disconnect_forgets_who_you_follow_and_your_reminders_and_says_so(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    await app_harness.command(user, f"follow {ADA}")
    await app_harness.command(user, f"task {ADA} Send the proposal due 2099-01-02")
    await app_harness.settle()
    assert (await app_harness.services.follows.following(user)).people

    mark = app_harness.slack.mark()
    await app_harness.command(user, "disconnect")
    await app_harness.settle()
    reply = await app_harness.slack.wait_for("response_url", since=mark)
    assert reply.contains("the 1 person you followed") and reply.contains("1 task reminder")
    assert (await app_harness.services.follows.following(user)).people == ()
    assert await app_harness.services.store.schedule.pending(user, "reminder") == []
