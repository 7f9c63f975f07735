"""`/rollout` end to end: signed slash commands into the running app, answers read off the fake Slack API."""

from __future__ import annotations

import asyncio

from bot.blocks import fields
from bot.blocks.messages import USER_MESSAGES
from bot.blocks.values import decode_value
from bot.ids import Action, View
from bot.rollout.outcomes import FailureReason
from tests.harness import CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


async def test_overview_shows_the_card_to_the_requester(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    sent = await app_harness.command(user, f"overview {ADA}")

    assert sent.status == 200 and sent.body == ""  # acked at once, with nothing shown yet
    card = await app_harness.slack.wait_for("response_url")
    assert card.args["response_type"] == "ephemeral"
    assert card.blocks[0]["type"] == "header" and card.blocks[0]["text"]["text"] == "Ada Lovelace"
    assert card.contains("Analytical Engines Ltd")
    assert {Action.PERSON_ADD_NOTE, Action.PERSON_CREATE_TASK, Action.PERSON_OPEN_IN_CRM} <= set(card.action_ids)
    ada = app_harness.crm_person(user, ADA)
    assert decode_value(card.button(Action.PERSON_ADD_NOTE)["value"]) == {
        "p": ada.id,
        "c": app_harness.crm_account(user),
        "e": ADA,
    }
    assert card.button(Action.PERSON_OPEN_IN_CRM)["url"] == ada.url


async def test_several_matches_give_a_private_pick_list_and_picking_shows_the_card(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.command(user, "overview ada")

    picker = await app_harness.slack.wait_for("response_url")
    assert picker.args["response_type"] == "ephemeral"
    assert picker.contains("Ada Lovelace") and picker.contains("Ada Byron")
    buttons = [b for b in picker.elements("button") if b["action_id"] == Action.PERSON_PICK]
    assert len(buttons) == 2

    mark = app_harness.slack.mark()
    await app_harness.click(user, picker, Action.PERSON_PICK, value=buttons[1]["value"])

    card = await app_harness.slack.wait_for("response_url", since=mark)
    assert card.args["response_type"] == "ephemeral"
    picked = decode_value(buttons[1]["value"])["p"]
    assert decode_value(card.button(Action.PERSON_ADD_NOTE)["value"])["p"] == picked


async def test_nobody_found_offers_create_person_which_opens_the_modal_prefilled(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.command(user, "overview grace.hopper@navy.example")

    miss = await app_harness.slack.wait_for("response_url")
    assert miss.args["response_type"] == "ephemeral"
    assert miss.contains("grace.hopper@navy.example")
    await app_harness.click(user, miss, Action.PERSON_CREATE)
    modal = await app_harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.PERSON_SUBMIT
    email_input = next(e for e in modal.elements() if e["action_id"] == fields.PERSON_EMAIL)
    assert email_input["initial_value"] == "grace.hopper@navy.example"

    await app_harness.submit(user, modal, {fields.PERSON_FIRST: "Grace", fields.PERSON_LAST: "Hopper"})

    confirmation = await app_harness.slack.wait_for("chat.postEphemeral")
    assert confirmation.args["user"] == user.user_id and confirmation.contains("Grace Hopper")
    assert app_harness.crm_person(user, "grace.hopper@navy.example").name == "Grace Hopper"


async def test_note_command_writes_once_even_when_slack_delivers_it_three_times(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    ada = app_harness.crm_person(user, ADA)
    before = len(app_harness.crm_notes(user, ada))
    trigger = "1337.42.same-trigger"

    answers = await asyncio.gather(
        *(app_harness.command(user, f"note {ADA} Called about the renewal", trigger_id=trigger) for _ in range(3))
    )
    await app_harness.settle()

    assert [a.status for a in answers] == [200, 200, 200]
    notes = app_harness.crm_notes(user, ada)
    assert len(notes) == before + 1
    assert notes[0].content == "Called about the renewal"
    confirmations = app_harness.slack.calls_to("response_url")
    assert len(confirmations) == 1
    assert confirmations[0].args["response_type"] == "ephemeral"
    assert confirmations[0].contains("Ada Lovelace")


async def test_task_command_creates_the_task_with_its_due_date(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.command(user, f"task {ADA} Send the proposal due 2027-01-15")
    await app_harness.slack.wait_for("response_url")

    tasks = app_harness.crm_tasks(user, app_harness.crm_person(user, ADA))
    assert [(t.title, t.due_date) for t in tasks if t.title == "Send the proposal"] == [
        ("Send the proposal", "2027-01-15")
    ]


async def test_note_without_text_opens_the_note_modal_for_that_person(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.command(user, f"note {ADA}")

    modal = await app_harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.NOTE_SUBMIT
    assert modal.contains("Ada Lovelace")
    assert [e["action_id"] for e in modal.elements()] == [fields.NOTE_TEXT]
    metadata = decode_value(modal.view["private_metadata"])
    assert metadata["p"] == app_harness.crm_person(user, ADA).id
    assert metadata["u"] == user.user_id and metadata["ch"] == CHANNEL_ID


async def test_task_with_an_unreadable_date_opens_the_task_modal_prefilled(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.command(user, f"task {ADA} Send the proposal due someday")

    modal = await app_harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.TASK_SUBMIT
    title = next(e for e in modal.elements() if e["action_id"] == fields.TASK_TITLE)
    assert title["initial_value"] == "Send the proposal"
    assert modal.contains("someday")  # the banner says which date could not be read


async def test_person_without_email_opens_the_person_modal_prefilled(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.command(user, "person Ada Newperson")

    modal = await app_harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.PERSON_SUBMIT
    first = next(e for e in modal.elements() if e["action_id"] == fields.PERSON_FIRST)
    last = next(e for e in modal.elements() if e["action_id"] == fields.PERSON_LAST)
    assert (first["initial_value"], last["initial_value"]) == ("Ada", "Newperson")


async def test_note_for_an_ambiguous_name_opens_a_person_search_keeping_the_text(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.command(user, "note ada Met at the conference")

    modal = await app_harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.NOTE_SUBMIT
    assert fields.PERSON_SELECT in [e["action_id"] for e in modal.elements("external_select")]
    note = next(e for e in modal.elements() if e["action_id"] == fields.NOTE_TEXT)
    assert note["initial_value"].startswith("Met at the conference")


async def test_credentials_lists_accounts_with_make_default(app_harness: AppHarness) -> None:
    user = app_harness.new_user(["hubspot", "salesforce"])

    await app_harness.command(user, "credentials")

    listed = await app_harness.slack.wait_for("response_url")
    assert listed.args["response_type"] == "ephemeral"
    assert listed.contains("HubSpot") and listed.contains("Salesforce")
    assert listed.action_ids.count(Action.CREDENTIAL_MAKE_DEFAULT) == 2

    salesforce = app_harness.crm_account(user, 1)
    await app_harness.click(user, listed, Action.CREDENTIAL_MAKE_DEFAULT, value=f'{{"c":"{salesforce}"}}')
    await app_harness.settle()

    assert (await app_harness.services.store.users.get_or_create(user)).default_credential_id == salesforce


async def test_help_and_unknown_text_show_usage(app_harness: AppHarness) -> None:
    user = app_harness.new_user()

    await app_harness.command(user, "help")
    await app_harness.command(user, "what should I do today?")  # no agent configured: usage instead
    await app_harness.settle()

    answers = app_harness.slack.calls_to("response_url")
    assert len(answers) == 2
    for answer in answers:
        assert answer.args["response_type"] == "ephemeral"
        assert answer.contains("/rollout overview")
    assert not answers[0].contains("ANTHROPIC_API_KEY")
    assert answers[1].contains("isn't set up") and answers[1].contains("ANTHROPIC_API_KEY")  # says what to configure


async def test_rollout_down_gives_a_friendly_private_error(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    app_harness.sandbox.set_failure("500")

    await app_harness.command(user, f"overview {ADA}")

    error = await app_harness.slack.wait_for("response_url")
    assert error.args["response_type"] == "ephemeral"
    friendly = {USER_MESSAGES[FailureReason.UNREACHABLE], USER_MESSAGES[FailureReason.SERVER_ERROR]}
    assert error.text in friendly
    assert not error.contains("500") and not error.contains("Error")


async def test_an_expired_response_url_falls_back_to_the_web_api_in_the_channel(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    app_harness.slack.fail_next("response_url", status=404)

    await app_harness.command(user, f"overview {ADA}")

    card = await app_harness.slack.wait_for("chat.postEphemeral")
    assert card.args["channel"] == CHANNEL_ID and card.args["user"] == user.user_id and card.contains("Ada Lovelace")


async def test_a_rate_limited_post_is_sent_again_after_retry_after(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    app_harness.slack.fail_next("response_url", status=404)
    app_harness.slack.fail_next("chat.postEphemeral", status=429, retry_after=0)

    await app_harness.command(user, f"overview {ADA}")
    await app_harness.settle()

    posts = app_harness.slack.calls_to("chat.postEphemeral")
    assert [p.status for p in posts] == [429, 200]
    assert posts[1].contains("Ada Lovelace")


async def test_a_double_clicked_pick_posts_the_card_once(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    await app_harness.command(user, "overview ada")
    picker = await app_harness.slack.wait_for("response_url")
    first = picker.elements("button")[0]["value"]
    mark = app_harness.slack.mark()

    await asyncio.gather(*(app_harness.click(user, picker, Action.PERSON_PICK, value=first) for _ in range(3)))
    await app_harness.settle()

    assert len(app_harness.slack.calls_to("response_url", since=mark)) == 1


async def test_replies_to_slack_reuse_one_connection(app_harness: AppHarness) -> None:
    # A new HTTP session per reply would mean a new connection, and against the real Slack a new TLS handshake,
    # for every card.
    user = app_harness.new_user()
    first_mark = app_harness.slack.mark()
    await app_harness.command(user, f"overview {ADA}")
    first = await app_harness.slack.wait_for("response_url", since=first_mark)
    second_mark = app_harness.slack.mark()
    await app_harness.command(user, f"overview {ADA}")
    second = await app_harness.slack.wait_for("response_url", since=second_mark)

    assert first.connection and first.connection == second.connection
