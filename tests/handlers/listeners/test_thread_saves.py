"""Saving a Slack thread to the CRM, without a model: the thread verbatim as the note, one card, one write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench.fakes import Call
from bot.blocks.messages import USER_MESSAGES, Notice
from bot.blocks.thread_save import STATUS_LINES
from bot.blocks.values import decode_value
from bot.identity import SlackUser
from bot.ids import Action, Shortcut, View
from bot.store.schema import approvals
from bot.thread_saves import NOTE_LIMIT
from handlers.slack.thread_reading import INVITE_FIRST, NOTHING_NEW, PAGE_SIZE, READING_SLOWLY
from tests.harness import CHANNEL_ID, AppHarness, block_actions

ADA = "ada.lovelace@analytical-engines.example"


def _thread(harness: AppHarness, count: int, *, email: str | None = ADA) -> str:
    messages: list[dict[str, Any]] = [{"user": "U0SAM", "text": f"Kick-off with Ada ({email or 'no address'})"}]
    messages.append({"user": "U0NEW", "subtype": "channel_join", "text": "<@U0NEW> has joined the channel"})
    messages.append({"bot_id": "B0OTHER", "text": "A bot's reminder"})
    messages.append({"user": "U0PARTNER", "team": "T0PARTNER", "text": "From the partner's side: we agree."})
    messages += [{"user": "U0SAM", "text": f"Message {n} about pricing, <@U0KIM> please check"} for n in range(count)]
    return harness.slack.add_thread(CHANNEL_ID, messages)


async def _save_and_approve(harness: AppHarness, user: SlackUser, thread_ts: str) -> Call:
    """The card, approved and written."""
    card = await _save(harness, user, thread_ts)
    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)
    await harness.settle()
    return card


async def _save(harness: AppHarness, user: SlackUser, thread_ts: str) -> Call:
    mark = harness.slack.mark()
    await harness.message_shortcut(user, Shortcut.SAVE_THREAD, text="Kick-off", message_ts=thread_ts)
    return await harness.slack.wait_for("chat.postEphemeral", since=mark)


async def test_a_long_thread_is_read_whole_and_saved_once_after_approve(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    notes_before = len(harness.crm_notes(user, ada))
    thread_ts = _thread(harness, 300)

    card = await _save(harness, user, thread_ts)

    pages = harness.slack.calls_to("conversations.replies")
    assert len(pages) == 2 and all(int(p.args["limit"]) == PAGE_SIZE for p in pages)  # 304 messages, paged
    assert card.args["user"] == user.user_id and card.args["thread_ts"] == thread_ts  # the requester only
    assert card.contains("Ada Lovelace") and Action.THREAD_SAVE_APPROVE in card.action_ids
    assert card.contains("*CRM account:* HubSpot (hubspot)")
    assert len(harness.crm_notes(user, ada)) == notes_before  # nothing written before the click

    mark = harness.slack.mark()
    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)
    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)  # a double click
    posted = await harness.slack.wait_for("chat.postMessage", since=mark)
    await harness.settle()

    notes = harness.crm_notes(user, ada)
    assert len(notes) == notes_before + 1
    note = notes[0].content  # newest first
    assert note.startswith("User U0SAM: Kick-off with Ada") and "User U0PARTNER (external): From the partner" in note
    assert "A bot's reminder" not in note and "has joined" not in note and "@User U0KIM" in note
    assert len(note) <= NOTE_LIMIT and note.splitlines()[-1].startswith("…and ") and note.endswith("more messages")
    assert posted.args["thread_ts"] == thread_ts and posted.args["unfurl_links"] is False
    assert len(harness.slack.calls_to("chat.postMessage", since=mark)) == 1


async def test_saving_the_same_thread_again_offers_only_what_came_after(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    thread_ts = _thread(harness, 3)
    await _save_and_approve(harness, user, thread_ts)

    again = await _save(harness, user, thread_ts)
    assert again.contains(NOTHING_NEW)

    harness.slack.add_replies(CHANNEL_ID, thread_ts, [{"user": "U0SAM", "text": f"Ada ({ADA}) signed today"}])
    newer = await _save(harness, user, thread_ts)
    assert newer.contains("only what came after") and newer.contains("1 message")
    await harness.click(user, newer, Action.THREAD_SAVE_APPROVE)
    await harness.settle()
    assert harness.crm_notes(user, ada)[0].content == f"User U0SAM: Ada ({ADA}) signed today"


async def test_a_rate_limited_read_waits_and_goes_on(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    thread_ts = _thread(harness, 2)
    harness.slack.fail_next("conversations.replies", retry_after=0)

    card = await _save(harness, user, thread_ts)

    assert [c.status for c in harness.slack.calls_to("conversations.replies")] == [429, 200]
    assert Action.THREAD_SAVE_APPROVE in card.action_ids


async def test_a_read_still_rate_limited_after_waiting_says_to_try_again(app_harness: AppHarness) -> None:
    harness = app_harness
    for _ in range(3):  # the first try and both of the web client's retries
        harness.slack.fail_next("conversations.replies", retry_after=0)

    told = await _save(harness, harness.new_user(), _thread(harness, 1))

    assert told.contains(USER_MESSAGES[Notice.SLACK_ERROR]) and not told.contains(INVITE_FIRST)


async def test_log_this_in_a_thread_works_without_a_model(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    thread_ts = _thread(harness, 1, email=None)
    ts = "1700008000.000001"
    event = {"type": "app_mention", "user": user.user_id, "text": "<@U0BOT> log this to Ada Lovelace", "ts": ts}

    await harness.event({**event, "channel": CHANNEL_ID, "thread_ts": thread_ts})

    card = await harness.slack.wait_for("chat.postEphemeral")
    assert card.contains("Ada Lovelace") and card.contains("User U0SAM: Kick-off with Ada")
    assert Action.THREAD_SAVE_APPROVE in card.action_ids


async def test_a_channel_the_bot_is_not_in_asks_for_an_invite(app_harness: AppHarness) -> None:
    harness = app_harness
    harness.slack.fail_next("conversations.replies", status=200, error="not_in_channel")

    told = await _save(harness, harness.new_user(), "1700009999.000001")

    assert told.contains(INVITE_FIRST)


async def test_nobody_found_in_the_thread_means_the_requester_picks_the_person(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    card = await _save(harness, user, _thread(harness, 1, email=None))
    (select,) = card.elements("external_select")
    assert select["action_id"] == Action.THREAD_SAVE_PERSON

    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)  # no person yet: nothing is written
    await harness.settle()
    assert len(harness.crm_notes(user, ada)) == before

    options = await harness.options(user, Action.THREAD_SAVE_PERSON, "Ada Lovelace")
    (option,) = options.json()["options"]
    mark = harness.slack.mark()
    await harness.interaction(_picked(harness, user, card, option["value"]))
    updated = await harness.slack.wait_for("response_url", lambda c: c.contains("Ada Lovelace"), since=mark)
    assert Action.THREAD_SAVE_APPROVE in [
        e.get("action_id") for b in updated.args["blocks"] for e in b.get("elements", [])
    ]

    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)
    await harness.settle()
    assert len(harness.crm_notes(user, ada)) == before + 1


async def test_edit_the_note_then_approve_writes_the_edited_note(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    card = await _save(harness, user, _thread(harness, 2))

    await harness.click(user, card, Action.THREAD_SAVE_EDIT)
    modal = await harness.slack.wait_for("views.open")
    assert modal.view["callback_id"] == View.THREAD_SAVE_EDIT_SUBMIT
    mark = harness.slack.mark()
    await harness.submit(user, modal, {"thread_save.note": "Ada agreed to the pricing."})
    await harness.slack.wait_for("response_url", lambda c: c.contains("Ada agreed to the pricing."), since=mark)

    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)
    await harness.settle()
    assert harness.crm_notes(user, ada)[0].content == "Ada agreed to the pricing."


async def test_an_expired_card_writes_nothing_and_says_so(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    card = await _save(harness, user, _thread(harness, 1))
    save_id = decode_value(card.button(Action.THREAD_SAVE_APPROVE)["value"])["s"]
    async with harness.services.store._database.engine.begin() as connection:
        past = datetime.now(UTC) - timedelta(minutes=1)
        await connection.execute(sa.update(approvals).where(approvals.c.id == save_id).values(expires_at=past))

    mark = harness.slack.mark()
    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)
    shown = await harness.slack.wait_for("response_url", since=mark)
    await harness.settle()

    assert shown.contains(STATUS_LINES["expired"]) and Action.THREAD_SAVE_APPROVE not in str(shown.args["blocks"])
    assert len(harness.crm_notes(user, ada)) == before


async def test_someone_else_cannot_approve_the_card(app_harness: AppHarness) -> None:
    harness = app_harness
    user, stranger = harness.new_user(), harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    card = await _save(harness, user, _thread(harness, 1))

    await harness.click(stranger, card, Action.THREAD_SAVE_APPROVE)
    await harness.settle()

    assert len(harness.crm_notes(user, ada)) == before


def _picked(harness: AppHarness, user: SlackUser, card: Call, person_id: str) -> dict[str, Any]:
    (block,) = [b for b in card.blocks if any(e.get("type") == "external_select" for e in b.get("elements", []))]
    action = {
        "type": "external_select",
        "action_id": Action.THREAD_SAVE_PERSON.value,
        "block_id": block["block_id"],
        "selected_option": {"value": person_id, "text": {"type": "plain_text", "text": "Ada"}},
    }
    return block_actions(harness, user, action)


# ---- "saved up to" belongs to the requester's CRM account ------------------------------------------------------


async def test_one_persons_save_does_not_mark_the_thread_saved_for_anyone_else(app_harness: AppHarness) -> None:
    harness = app_harness
    first, second = harness.new_user(), harness.new_user()
    thread_ts = _thread(harness, 2)
    await _save_and_approve(harness, first, thread_ts)
    ada = harness.crm_person(second, ADA)
    before = len(harness.crm_notes(second, ada))

    offered = await _save(harness, second, thread_ts)

    assert not offered.contains(NOTHING_NEW) and not offered.contains("only what came after")
    assert offered.contains("Ada Lovelace") and offered.contains("User U0SAM: Kick-off with Ada")
    await harness.click(second, offered, Action.THREAD_SAVE_APPROVE)
    await harness.settle()
    assert len(harness.crm_notes(second, ada)) == before + 1


async def test_a_later_save_still_finds_the_person_named_before_the_last_save(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    thread_ts = _thread(harness, 1)
    await _save_and_approve(harness, user, thread_ts)
    harness.slack.add_replies(CHANNEL_ID, thread_ts, [{"user": "U0SAM", "text": "She signed today"}])

    newer = await _save(harness, user, thread_ts)

    assert newer.contains("only what came after") and newer.contains("Ada Lovelace")
    assert Action.THREAD_SAVE_APPROVE in newer.action_ids and not newer.elements("external_select")


async def test_workspaces_sharing_a_channel_do_not_share_what_was_saved(app_harness: AppHarness) -> None:
    harness = app_harness
    host = harness.new_user()
    partner = SlackUser("T0PARTNER", host.user_id)  # the same channel, through Slack Connect; even the same user id
    harness.sandbox.crm.set_accounts(partner.default_subject, ["hubspot"])
    thread_ts = _thread(harness, 1)
    await _save_and_approve(harness, host, thread_ts)

    offered = await _save(harness, partner, thread_ts)

    assert not offered.contains(NOTHING_NEW) and not offered.contains("only what came after")


async def test_saves_to_two_accounts_of_one_person_are_tracked_apart(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user(["hubspot", "salesforce"])
    thread_ts = _thread(harness, 1)
    users = harness.services.store.users
    await users.set_default_credential(user, harness.crm_account(user, 0))
    await _save_and_approve(harness, user, thread_ts)
    assert (await _save(harness, user, thread_ts)).contains(NOTHING_NEW)

    await users.set_default_credential(user, harness.crm_account(user, 1))
    ada = harness.crm_person(user, ADA, account=1)
    before = len(harness.crm_notes(user, ada, account=1))
    other = await _save(harness, user, thread_ts)

    assert not other.contains(NOTHING_NEW) and other.contains("Salesforce")
    await harness.click(user, other, Action.THREAD_SAVE_APPROVE)
    await harness.settle()
    assert len(harness.crm_notes(user, ada, account=1)) == before + 1


async def test_a_cancelled_or_pending_save_does_not_count_as_saved(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    thread_ts = _thread(harness, 1)
    pending = await _save(harness, user, thread_ts)  # left as it is

    assert not (await _save(harness, user, thread_ts)).contains(NOTHING_NEW)

    await harness.click(user, pending, Action.THREAD_SAVE_CANCEL)
    await harness.settle()
    again = await _save(harness, user, thread_ts)
    assert not again.contains(NOTHING_NEW) and not again.contains("only what came after")


async def test_a_save_whose_note_failed_can_be_approved_again_and_writes_once(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    thread_ts = _thread(harness, 1)
    card = await _save(harness, user, thread_ts)

    harness.sandbox.set_failure("500")
    mark = harness.slack.mark()
    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)
    await harness.settle()
    harness.sandbox.set_failure(None)
    assert len(harness.crm_notes(user, ada)) == before
    assert not harness.slack.calls_to("chat.postMessage", since=mark)  # nothing claimed as saved in the thread

    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)
    await harness.click(user, card, Action.THREAD_SAVE_APPROVE)
    await harness.settle()
    assert len(harness.crm_notes(user, ada)) == before + 1
    assert len(harness.slack.calls_to("chat.postMessage", since=mark)) == 1
    assert (await _save(harness, user, thread_ts)).contains(NOTHING_NEW)


async def test_what_was_saved_is_remembered_after_retention_deletes_the_old_card(app_harness: AppHarness) -> None:
    harness = app_harness
    user = harness.new_user()
    thread_ts = _thread(harness, 1)
    card = await _save_and_approve(harness, user, thread_ts)
    save_id = decode_value(card.button(Action.THREAD_SAVE_APPROVE)["value"])["s"]
    long_ago = datetime.now(UTC) - timedelta(days=400)
    async with harness.services.store._database.engine.begin() as connection:
        await connection.execute(
            sa.update(approvals).where(approvals.c.id == save_id).values(updated_at=long_ago, expires_at=long_ago)
        )
    store = harness.services.store
    while (batch := await store.retention.delete_batch(datetime.now(UTC), datetime.now(UTC), 1000)) and batch.total:
        pass
    assert await store.approvals.get(save_id) is None

    assert (await _save(harness, user, thread_ts)).contains(NOTHING_NEW)


async def test_a_thread_slack_lets_us_read_only_slowly_says_so_before_the_card(app_harness: AppHarness) -> None:
    harness = app_harness
    harness.slack.replies_page_limit = 15  # an app outside the Marketplace: 15 messages a page, a page a minute
    try:
        user = harness.new_user()
        thread_ts = _thread(harness, 40)  # 44 messages: 3 pages

        mark = harness.slack.mark()
        await harness.message_shortcut(user, Shortcut.SAVE_THREAD, text="Kick-off", message_ts=thread_ts)
        card = await harness.slack.wait_for(
            "chat.postEphemeral", lambda c: Action.THREAD_SAVE_APPROVE in c.action_ids, since=mark
        )
        told = harness.slack.calls_to("chat.postEphemeral", since=mark)
    finally:
        harness.slack.replies_page_limit = 1000

    assert len(harness.slack.calls_to("conversations.replies")) == 3
    (notice,) = [c for c in told if c.contains(READING_SLOWLY)]
    assert notice.seq < card.seq and notice.args["user"] == user.user_id and "about 2 minutes" in notice.text
    assert Action.THREAD_SAVE_APPROVE in card.action_ids
