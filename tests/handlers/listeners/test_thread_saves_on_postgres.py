"""A thread saved to the CRM on PostgreSQL, where several processes share the database: concurrent Approves write once,
and the thread counts as logged for every process."""

from __future__ import annotations

import asyncio

from bot.ids import Action, Shortcut
from handlers.slack.thread_reading import NOTHING_NEW
from tests.harness import CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


async def test_concurrent_approves_of_a_thread_save_write_one_note(postgres_app_harness: AppHarness) -> None:
    harness = postgres_app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    thread_ts = harness.slack.add_thread(CHANNEL_ID, [{"user": "U0SAM", "text": f"Ada ({ADA}) wants a demo"}])
    await harness.message_shortcut(user, Shortcut.SAVE_THREAD, text="Ada", message_ts=thread_ts)
    card = await harness.slack.wait_for("chat.postEphemeral")

    await asyncio.gather(*(harness.click(user, card, Action.THREAD_SAVE_APPROVE) for _ in range(3)))
    await harness.settle()

    assert len(harness.crm_notes(user, ada)) == before + 1
    mark = harness.slack.mark()
    await harness.message_shortcut(user, Shortcut.SAVE_THREAD, text="Ada", message_ts=thread_ts)
    assert (await harness.slack.wait_for("chat.postEphemeral", since=mark)).contains(NOTHING_NEW)
