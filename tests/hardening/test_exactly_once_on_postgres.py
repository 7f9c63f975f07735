"""The exactly-once guarantees on PostgreSQL, where several app processes would share the database."""

from __future__ import annotations

import asyncio

from bot.blocks import fields
from bot.ids import Action
from tests.harness import AppHarness

ADA = "ada.lovelace@analytical-engines.example"


async def test_a_note_submitted_three_times_at_once_is_written_once(postgres_app_harness: AppHarness) -> None:
    harness = postgres_app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    await harness.command(user, f"overview {ADA}")
    card = await harness.slack.wait_for("response_url")
    await harness.click(user, card, Action.PERSON_ADD_NOTE)
    modal = await harness.slack.wait_for("views.open")

    await asyncio.gather(*(harness.submit(user, modal, {fields.NOTE_TEXT: "Signed the order form"}) for _ in range(3)))
    await harness.settle()

    notes = harness.crm_notes(user, ada)
    assert len(notes) == before + 1 and notes[0].content == "Signed the order form"


async def test_a_command_delivered_three_times_at_once_runs_once(postgres_app_harness: AppHarness) -> None:
    harness = postgres_app_harness
    user = harness.new_user()

    await asyncio.gather(*(harness.command(user, f"task {ADA} Renewal call", trigger_id="9.9.same") for _ in range(3)))
    await harness.settle()

    assert [t.title for t in harness.crm_tasks(user, harness.crm_person(user, ADA))].count("Renewal call") == 1
    assert len(harness.slack.calls_to("response_url")) == 1
